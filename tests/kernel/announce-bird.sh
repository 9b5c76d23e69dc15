# Active-active directors announced over BGP by a real BIRD 2. Two directors, each haldir with
# [routing] and [[announce]] and its own BIRD learning haldir's table 200 (`protocol kernel {
# kernel table 200; learn; }`) and exporting it to the router's BIRD (eBGP, `merge paths` into
# the router's kernel table). The router must hold one ECMP route to the VIP with a next hop per
# director; a director whose checks fail withdraws (the router drops that next hop), announces
# again after its hold-down, and a clean stop withdraws before anything else.

bridge br0     # directors, real servers, router
bridge br1     # client, router
for ns in client router d1 d2 rs1 rs2; do netns $ns; done
attach client br1 eth0 10.1.0.10/24
attach router br1 eth1 10.1.0.254/24
attach router br0 eth0 10.0.0.254/24
at client ip route add default via 10.1.0.254
at router sysctl -qw net.ipv4.ip_forward=1
# L4 hashing at the router: the flows of one client spread over the directors.
at router sysctl -qw net.ipv4.fib_multipath_hash_policy=1
for i in 1 2; do
    attach d$i br0 eth0 10.0.0.$i/24
    attach rs$i br0 eth0 10.0.0.1$i/24
    at rs$i ip route add default via 10.0.0.254
    realserver_dr rs$i 192.0.2.10
    serve rs$i 80 rs$i
done

bird_router() {
    cat > /lab/bird-router.conf <<CONF
router id 10.0.0.254;
protocol device {}
protocol kernel { ipv4 { export all; }; merge paths on; }
template bgp director { local 10.0.0.254 as 65000; connect delay time 1; connect retry time 2; hold time 9; keepalive time 3; ipv4 { import all; export none; }; }
protocol bgp d1 from director { neighbor 10.0.0.1 as 65001; }
protocol bgp d2 from director { neighbor 10.0.0.2 as 65002; }
CONF
    spawn_at router /tmp/bird-router.pid bird -f -c /lab/bird-router.conf -s /tmp/bird-router.ctl
}
bird_director() { # N
    cat > /lab/bird-d$1.conf <<CONF
router id 10.0.0.$1;
protocol device {}
protocol kernel { kernel table 200; learn; ipv4 { import all; export none; }; }
protocol bgp uplink {
    local 10.0.0.$1 as 6500$1; neighbor 10.0.0.254 as 65000;
    connect delay time 1; connect retry time 2; hold time 9; keepalive time 3;
    ipv4 { import none; export where source = RTS_INHERIT; next hop self; };
}
CONF
    spawn_at d$1 /tmp/bird-d$1.pid bird -f -c /lab/bird-d$1.conf -s /tmp/bird-d$1.ctl
}
director() { # N
    cat > /lab/d$1.toml <<TOML
[global]
router_id = "d$1"
state_dir = "/run/haldir-d$1"
control_socket = "/run/haldir-d$1/control.sock"
[static]
addresses = ["192.0.2.10/32 dev lo"]
[ipvs]
sloppy_tcp = true
[routing]
table = 200
protocol = 200
startup_delay = "1s"
[[announce]]
prefix = "192.0.2.10/32"
hold_down = "5s"
[[virtual_server]]
name = "web"
address = "192.0.2.10:80"
scheduler = "mh"
scheduler_flags = ["mh-port", "mh-fallback"]
forwarding = "dr"
check = { type = "tcp", interval = "1s", timeout = "1s", fall = 1, rise = 1 }
[[virtual_server.real_server]]
address = "10.0.0.11:80"
[[virtual_server.real_server]]
address = "10.0.0.12:80"
TOML
}
start() { spawn_at "$1" "/tmp/$1.pid" haldir run -c "/lab/$1.toml" 2>>"/tmp/$1.log"; }
in_table() { [ -n "$(at "$1" ip route show table 200 192.0.2.10/32 proto 200)" ]; }
hops() { # the router's next hops to the VIP, as "10.0.0.1 10.0.0.2"
    at router ip route show 192.0.2.10 | awk '{for (i = 1; i < NF; i++) if ($i == "via") print $(i + 1)}' | sort | tr '\n' ' ' | sed 's/ $//'
}
hops_are() { [ "$(hops)" = "$1" ]; }
status_of() { at "$1" haldir -c "/lab/$1.toml" status 2>&1 | awk '/^Announced/ {p = 1; next} p && NF {sub(/^ +/, ""); print; exit}'; }
status_is() { [ "$(status_of "$1")" = "$2" ]; }

bird_router
for i in 1 2; do director $i; bird_director $i; start d$i; done

wait_until in_table d1 && wait_until in_table d2 || { logs d1 d2; fail "each haldir puts the VIP's route in table 200"; }
ok "each haldir put 192.0.2.10/32 in table 200 (proto 200) once its checks had run"
check_eq "haldir status says why" "192.0.2.10/32        wanted, in the table" "$(status_of d1)"
wait_until hops_are "10.0.0.1 10.0.0.2" || wait_until hops_are "10.0.0.1 10.0.0.2" \
    || { at router birdc -s /tmp/bird-router.ctl show route all; at router ip route; fail "the router holds an ECMP route over both directors (got: $(hops))"; }
ok "the router's BIRD learned it from both directors: one route, next hops $(hops)"
answers=$(i=0; while [ $i -lt 12 ]; do at client curl -s --max-time 3 --local-port $((40000 + i)) http://192.0.2.10/; i=$((i + 1)); done | sort -u | tr '\n' ' ')
check_eq "flows from 12 source ports reach both real servers through the directors" "rs1 rs2 " "$answers"

say "d1's checks fail (its probes are dropped at the real servers): d1 withdraws"
for i in 1 2; do at rs$i nft add table inet lab; at rs$i nft add chain inet lab in '{ type filter hook input priority 0; }'; at rs$i nft add rule inet lab in ip saddr 10.0.0.1 tcp dport 80 tcp flags syn drop; done
t=$(until_ms 8000 hops_are "10.0.0.2") || { logs d1; fail "the router drops d1 (got: $(hops))"; }
withdrawn=$(now_ms)
ok "the router dropped d1's next hop ${t} ms after its probes began to fail"
check_run "d1's route is out of table 200" sh -c "! /usr/sbin/ip netns exec d1 ip route show table 200 | grep -q 192.0.2.10"
check_eq "haldir status says why" "192.0.2.10/32        not wanted, not in the table  withheld: quorum" "$(status_of d1)"
check_eq "d1 keeps its failed servers at weight 0 (their mh slots stay in place)" "0 0" \
    "$(at d1 ipvsadm -Ln | awk '$1 == "->" && $2 ~ /^10/ {print $4}' | tr '\n' ' ' | sed 's/ $//')"
check_eq "the client is still served (through d2)" "rs" "$(at client curl -s --max-time 3 http://192.0.2.10/ | cut -c1-2)"

say "d1's checks pass again: it announces only after its hold-down (5 s from the withdrawal)"
for i in 1 2; do at rs$i nft delete table inet lab; done
wait_until status_is d1 "192.0.2.10/32        not wanted, not in the table  withheld: hold-down" \
    || fail "d1 holds its route down once its checks pass (status: $(status_of d1))"
ok "haldir status: withheld: hold-down"
t=$(until_ms 10000 hops_are "10.0.0.1 10.0.0.2") || { logs d1; fail "d1 announces again (got: $(hops))"; }
back=$(($(now_ms) - withdrawn))
[ "$back" -ge 4500 ] || fail "d1 came back ${back} ms after its withdrawal, inside its 5 s hold-down"
ok "d1 is back in the router's route ${back} ms after it was withdrawn (hold-down 5 s)"

say "a clean stop of d2's haldir withdraws first"
kill -TERM "$(cat /tmp/d2.pid)"
t=$(until_ms 8000 hops_are "10.0.0.1") || { logs d2; fail "the router drops d2 (got: $(hops))"; }
ok "the router dropped d2 ${t} ms after its haldir was stopped"
check_run "d2's table 200 is empty" sh -c "[ -z \"\$(/usr/sbin/ip netns exec d2 ip route show table 200)\" ]"
kill -TERM "$(cat /tmp/d1.pid)"
for p in bird-router bird-d1 bird-d2; do kill "$(cat /tmp/$p.pid)"; done
