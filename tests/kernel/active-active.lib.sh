# The active-active lab, shared by tests/kernel/active-active-*.sh and
# scripts/bench/active-active: a client and a router (BIRD: one BGP session per director with
# BFD, ECMP with `merge paths`, L4 multipath hashing), directors d1..dN each running haldir and
# its own BIRD (learning haldir's table 200 and exporting it), three DR real servers running
# haldir-flows' server side. Every director has the same file (but for router_id).
#
# Knobs (environment, for the ablations of the benchmark): AA_DIRECTORS (3), AA_SLOPPY
# (true: [ipvs] sloppy_tcp), AA_SYNC (true: the sync daemon, master and backup), AA_HASH
# (1: L4 multipath hashing at the router; 0: L3 only), AA_ROUTING (bird, or frr: FRR's zebra,
# bfdd and bgpd on the directors instead of BIRD).

AA_DIRECTORS=${AA_DIRECTORS:-3}
AA_SLOPPY=${AA_SLOPPY:-true}
AA_SYNC=${AA_SYNC:-true}
AA_HASH=${AA_HASH:-1}
AA_ROUTING=${AA_ROUTING:-bird}
VIP=192.0.2.10

aa_topology() {
    mkdir -p /run/bird
    bridge br0 # directors, real servers, router
    bridge br1 # client, router
    netns client
    netns router
    attach client br1 eth0 10.1.0.10/24
    attach router br1 eth1 10.1.0.254/24
    attach router br0 eth0 10.0.0.254/24
    at client ip route add default via 10.1.0.254
    at router sysctl -qw net.ipv4.ip_forward=1
    at router sysctl -qw net.ipv4.fib_multipath_hash_policy="$AA_HASH"
    local i
    for i in 1 2 3; do
        netns rs$i
        attach rs$i br0 eth0 10.0.0.1$i/24
        at rs$i ip route add default via 10.0.0.254
        realserver_dr rs$i $VIP
        rs_serve $i
    done
    for i in $(seq 1 "$AA_DIRECTORS"); do
        netns d$i
        attach d$i br0 eth0 10.0.0.$i/24
    done
    aa_bird_router
    for i in $(seq 1 "$AA_DIRECTORS"); do
        aa_director_file $i
        aa_routing_daemon $i
        aa_start d$i
    done
}

# aa_converged: every director has put the VIP's route in its table, and the router holds one
# ECMP route with a next hop per director (a BGP session can take a few tries to come up).
aa_converged() {
    local i all
    all=$(all_hops)
    for i in $(seq 1 "$AA_DIRECTORS"); do
        wait_until in_table d$i || { logs d$i; fail "d$i puts the VIP's route in table 200"; }
    done
    ok "every director put $VIP/32 in its table 200 once its checks had run"
    wait_until hops_are "$all" || wait_until hops_are "$all" || wait_until hops_are "$all" || {
        at router birdc -s /tmp/bird-router.ctl show protocols
        [ "$AA_ROUTING" = frr ] && cat /tmp/frr-d1.log
        fail "the router holds one ECMP route over the directors (got: $(hops))"
    }
    ok "the router ($AA_ROUTING on the directors) holds one route to $VIP with next hops $(hops)"
}

# rs_serve N / rs_stop N: the flow tool's server side on rsN, answering "rsN".
rs_serve() { spawn_at rs$1 /tmp/serve-rs$1.pid haldir-flows serve 80 rs$1; }
rs_stop() { kill "$(cat /tmp/serve-rs$1.pid)"; }

aa_bird_router() {
    {
        cat <<CONF
router id 10.0.0.254;
protocol device {}
protocol kernel { ipv4 { export all; }; merge paths on; }
protocol bfd { interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 5; }; }
template bgp director {
    local 10.0.0.254 as 65000; bfd on;
    connect delay time 1; connect retry time 1; error wait time 1, 2; hold time 9; keepalive time 3;
    ipv4 { import all; export none; };
}
CONF
        for i in $(seq 1 "$AA_DIRECTORS"); do
            echo "protocol bgp d$i from director { neighbor 10.0.0.$i as 6500$i; }"
        done
    } > /lab/bird-router.conf
    spawn_at router /tmp/bird-router.pid bird -f -c /lab/bird-router.conf -s /tmp/bird-router.ctl
}

aa_bird_director() { # N
    cat > /lab/bird-d$1.conf <<CONF
router id 10.0.0.$1;
protocol device {}
protocol kernel { kernel table 200; learn; ipv4 { import all; export none; }; }
protocol bfd { interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 5; }; }
protocol bgp uplink {
    local 10.0.0.$1 as 6500$1; neighbor 10.0.0.254 as 65000; bfd on;
    connect delay time 1; connect retry time 1; error wait time 1, 2; hold time 9; keepalive time 3;
    ipv4 { import none; export where source = RTS_INHERIT; next hop self; };
}
CONF
    spawn_at d$1 /tmp/bird-d$1.pid bird -f -c /lab/bird-d$1.conf -s /run/bird/bird.ctl-d$1
}

aa_routing_daemon() { # N
    case $AA_ROUTING in
    bird) aa_bird_director "$1" ;;
    frr) aa_frr_director "$1" ;;
    esac
}

# FRR 8.4 (Debian 12) on director N, in its own path space (-N dN): zebra imports haldir's
# table (`ip import-table 200`), bgpd redistributes it (`redistribute table 200`), bfdd
# answers the router's BFD.
aa_frr_director() { # N
    local etc=/etc/frr/d$1 run=/var/run/frr/d$1
    mkdir -p "$etc" "$run"
    printf 'hostname d%s\nip import-table 200\n' "$1" > "$etc/zebra.conf"
    cat > "$etc/bfdd.conf" <<CONF
bfd
 peer 10.0.0.254
  receive-interval 100
  transmit-interval 100
  detect-multiplier 5
CONF
    cat > "$etc/bgpd.conf" <<CONF
router bgp 6500$1
 bgp router-id 10.0.0.$1
 no bgp ebgp-requires-policy
 neighbor 10.0.0.254 remote-as 65000
 neighbor 10.0.0.254 bfd
 neighbor 10.0.0.254 timers 3 9
 neighbor 10.0.0.254 timers connect 1
 address-family ipv4 unicast
  redistribute table 200
 exit-address-family
CONF
    touch "$etc/vtysh.conf"
    chown -R frr:frr "$etc" "$run"
    local d
    for d in zebra bfdd bgpd; do
        at d$1 /usr/lib/frr/$d -d -N d$1 -f "$etc/$d.conf" -i "$run/$d.pid" >>/tmp/frr-d$1.log 2>&1
        # bgpd and bfdd connect to zebra's socket at their start.
        [ $d = zebra ] && { wait_for 5 test -S "$run/zserv.api" || fail "zebra listens on d$1"; }
    done
    wait_until test -s "$run/bgpd.pid" || fail "FRR did not start on d$1: $(tail -5 /tmp/frr-d$1.log)"
    # One pid file for aa_kill: the daemons' pids, space-separated.
    cat "$run/zebra.pid" "$run/bfdd.pid" "$run/bgpd.pid" 2>/dev/null | tr '\n' ' ' > /tmp/bird-d$1.pid
}

aa_director_file() { # N
    local sync=""
    [ "$AA_SYNC" = true ] && sync='sync_daemon = { interface = "eth0", sync_id = 7 }'
    cat > /lab/d$1.toml <<TOML
[global]
router_id = "d$1"
state_dir = "/run/haldir-d$1"
control_socket = "/run/haldir-d$1/control.sock"
[ipvs]
sloppy_tcp = $AA_SLOPPY
$sync
[routing]
table = 200
protocol = 200
startup_delay = "1s"
bird_socket = "/run/bird/bird.ctl-d$1"
[[announce]]
prefix = "$VIP/32"
hold_down = "5s"
[[virtual_server]]
name = "web"
address = "$VIP:80"
scheduler = "mh"
scheduler_flags = ["mh-port", "mh-fallback"]
forwarding = "dr"
alpha = true   # a director that (re)starts sends nothing to a server it has not seen answer
check = { type = "tcp", interval = "1s", timeout = "1s", fall = 1, rise = 1 }
[[virtual_server.real_server]]
address = "10.0.0.11:80"
[[virtual_server.real_server]]
address = "10.0.0.12:80"
[[virtual_server.real_server]]
address = "10.0.0.13:80"
TOML
}

aa_start() { spawn_at "$1" "/tmp/$1.pid" haldir run -c "/lab/$1.toml" 2>>"/tmp/$1.log"; }

# aa_kill N: director N dies as a machine does: its link goes down first (so that no FIN of
# a dying BGP session tells the router; only BFD can), then every process is killed.
aa_kill() {
    at d$1 ip link set eth0 down
    # shellcheck disable=SC2046 # the routing daemon's pids (several for FRR)
    kill -9 "$(cat /tmp/d$1.pid)" $(cat /tmp/bird-d$1.pid) 2>/dev/null
}

in_table() { [ -n "$(at "$1" ip route show table 200 $VIP/32 proto 200)" ]; }

# hops: the router's next hops to the VIP, as "10.0.0.1 10.0.0.2 10.0.0.3".
hops() {
    at router ip route show $VIP | awk '{for (i = 1; i < NF; i++) if ($i == "via") print $(i + 1)}' \
        | sort | tr '\n' ' ' | sed 's/ $//'
}
hops_are() { [ "$(hops)" = "$1" ]; }
all_hops() { seq 1 "$AA_DIRECTORS" | sed 's/^/10.0.0./' | tr '\n' ' ' | sed 's/ $//'; }

# status_of N: director N's line of "haldir status" for the VIP.
status_of() {
    at d$1 haldir -c /lab/d$1.toml status 2>&1 \
        | awk '/^Announced/ {p = 1; next} p && NF {sub(/^ +/, ""); print; exit}'
}

# flows_start NAME FIRST_PORT SECONDS: 200 flows from the client, a line every 300 ms; waits
# until every flow has had its first answer. flows_result NAME: waits for the end and prints
# the summary line ("flows 200 survived 200 reset 0 ...").
flows_start() {
    rm -f /tmp/ready-$1
    at client haldir-flows hold $VIP:80 --flows "${FLOWS:-200}" --first-port "$2" --every 300 \
        --seconds "$3" --timeout 10 --ready /tmp/ready-$1 > /tmp/flows-$1.txt 2>&1 &
    echo $! > /tmp/flows-$1.pid
    wait_for 30 test -f /tmp/ready-$1 || fail "the flows of $1 did not all connect: $(cat /tmp/flows-$1.txt)"
}
# (Call flows_wait outside a command substitution: a subshell cannot wait for its parent's
# children.)
flows_wait() { wait "$(cat /tmp/flows-$1.pid)" 2>/dev/null; }
flows_result() { grep '^flows ' /tmp/flows-$1.txt; }
# no_flow_lost NAME WHAT: every flow of NAME survived on the real server it started with.
no_flow_lost() {
    local r
    flows_wait "$1"
    r=$(flows_result "$1")
    echo "# $r"
    [ "$(field survived "$r")" = "${FLOWS:-200}" ] && [ "$(field changed "$r")" = 0 ] || {
        grep -v survived "/tmp/flows-$1.txt" | tail -20
        fail "$2: every flow survives on its real server ($r)"
    }
    ok "$2: $(field survived "$r") of ${FLOWS:-200} flows survived, none changed real server, longest stall $(field longest_stall_ms "$r") ms"
}

# d2_dies_under_flows WHAT: d2 dies under 200 flows; the router must drop its next hop within
# 2 s (WHAT: the BFD that tells it), and no flow may be lost. BFD detects in 5 x 100 ms; the
# bound leaves the routing daemon's reaction on the lab's emulated CPU room, and stays far
# below the 9 s BGP hold time that would drop the next hop without BFD.
d2_dies_under_flows() {
    local t
    flows_start kill 21000 15
    aa_kill 2
    t=$(until_ms 5000 hops_are "$(all_hops | sed 's/ 10.0.0.2//')") || fail "the router drops d2 (got: $(hops))"
    [ "$t" -le 2000 ] || fail "the router dropped d2 ${t} ms after its death: BFD should take under 2 s"
    ok "the router dropped d2's next hop ${t} ms after its death ($1)"
    no_flow_lost kill "d2 killed"
}

# field NAME LINE: a value of the summary line ("survived", "reset", ...).
field() { echo "$2" | awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }

# probe FIRST_PORT COUNT: "PORT SERVER" for fixed tuples from the client.
probe() { at client haldir-flows probe $VIP:80 --first-port "$1" --count "$2"; }
