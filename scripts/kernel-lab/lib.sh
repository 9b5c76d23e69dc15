# Helpers for lab scenarios (busybox sh). A failed check prints "not ok" and exits 1.

# busybox's shell prefers its own applets over PATH: name the real tools explicitly.
ip() { /usr/sbin/ip "$@"; }
nft() { /usr/sbin/nft "$@"; }

say() { echo "## $*"; }

fail() {
    echo "not ok - $*"
    exit 1
}

ok() { echo "ok - $*"; }

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        echo "--- expected"; echo "$2"; echo "--- actual"; echo "$3"; echo "---"
        fail "$1"
    fi
}

# check_run DESCRIPTION COMMAND...: the command must succeed; its output is shown on failure.
check_run() {
    local what=$1
    shift
    if out=$("$@" 2>&1); then
        ok "$what"
    else
        echo "$out"
        fail "$what (exit $?)"
    fi
}

# check_status DESCRIPTION EXPECTED_STATUS COMMAND...
check_status() {
    local what=$1 want=$2
    shift 2
    out=$("$@" 2>&1)
    local got=$?
    [ "$got" = "$want" ] || { echo "$out"; fail "$what: exit $got, expected $want"; }
    ok "$what"
}

# The kernel's IPVS table as ipvsadm-save -n prints it, sorted: the independent witness.
ipvs_saved() { ipvsadm-save -n | sort; }

# netns NAME: a namespace with lo up.
netns() {
    ip netns add "$1"
    ip -n "$1" link set lo up
}

# no_dad NS: IPv6 addresses of the namespace's interfaces made from now on skip duplicate
# address detection (a tentative link-local address cannot send adverts).
no_dad() {
    at "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0
    at "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0
}

# at NS COMMAND...: run a command inside a namespace.
at() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# bridge NAME: an L2 segment in the VM's root namespace.
bridge() {
    ip link add "$1" type bridge
    ip link set "$1" up
}

# attach NS BRIDGE IFACE ADDR/PREFIX: a veth from namespace NS (as IFACE) to BRIDGE.
attach() {
    local ns=$1 br=$2 ifc=$3 addr=$4 peer="v$1$3"
    ip link add "$peer" type veth peer name "$ifc" netns "$ns"
    ip link set "$peer" master "$br" up
    ip -n "$ns" link set "$ifc" up
    [ -n "$addr" ] && ip -n "$ns" addr add "$addr" dev "$ifc"
    true
}

# serve NS PORT TEXT: an HTTP server in NS answering TEXT on every address; unserve NS PORT
# stops it. (Namespaces share the PID space: stop servers by their own pid, never by name.)
serve() {
    local dir="/tmp/www-$1-$2"
    mkdir -p "$dir"
    echo "$3" > "$dir/index.html"
    /usr/sbin/ip netns exec "$1" busybox httpd -f -p "$2" -h "$dir" &
    echo $! > "/tmp/httpd-$1-$2.pid"
    sleep 0.1
}

unserve() {
    kill "$(cat "/tmp/httpd-$1-$2.pid")" 2>/dev/null
    wait "$(cat "/tmp/httpd-$1-$2.pid")" 2>/dev/null
    true
}

# tally NS URL COUNT: requests from NS, then one line per distinct answer: "COUNT ANSWER".
tally() {
    local i=0
    while [ $i -lt "$3" ]; do
        at "$1" curl -s --max-time 3 "$2" || echo "(no answer)"
        i=$((i + 1))
    done | sort | uniq -c | awk '{print $1, $2}'
}

# check_tally DESCRIPTION EXPECTED NS URL COUNT: the tally of COUNT requests must be EXPECTED.
# A balanced split moves when a real server flaps during the requests, or when a backup takes
# the VIP for a moment (its own table schedules those requests): on a mismatch, the daemons'
# health and VRRP state changes are shown to tell those from a scheduling fault.
check_tally() {
    local got
    got=$(tally "$3" "$4" "$5")
    if [ "$got" != "$2" ]; then
        grep 'real server \(up\|down\)\|VRRP state\|mark rules' "$logdir"/*.log 2>/dev/null | tail -n 24
        # A scenario may say more (which director's IPVS took the requests, the client's
        # neighbour entries) by defining tally_diag.
        command -v tally_diag >/dev/null 2>&1 && tally_diag
    fi
    check_eq "$1" "$2" "$got"
}

# ipvs_split CLIENT_IP VIP DIRECTOR...: for a split that does not match, what each director's
# IPVS took (its table's counters, its connections from the client by real server) and where
# the client sends the VIP's packets (a scenario's tally_diag calls it).
ipvs_split() {
    local client=$1 vip=$2 d
    shift 2
    for d in "$@"; do
        echo "== $d: its table, and its connections from $client by real server"
        at "$d" ipvsadm -Ln --stats 2>&1
        at "$d" ipvsadm -Lnc 2>&1 | awk -v c="$client:" 'index($4, c) == 1 {print $3, $NF}' | sort | uniq -c
    done
    echo "== client"; at client ip neigh show "$vip"
}

# realserver_dr NS VIP: accept the VIP without answering ARP for it (LVS-DR real server).
realserver_dr() {
    at "$1" ip addr add "$2/32" dev lo
    at "$1" sysctl -qw net.ipv4.conf.all.arp_ignore=1
    at "$1" sysctl -qw net.ipv4.conf.all.arp_announce=2
}

# spawn_at NS PIDFILE COMMAND...: a long-running command inside NS, in the background, its
# real pid in PIDFILE (backgrounding a shell function would record a subshell's pid instead).
spawn_at() {
    local ns=$1 pidfile=$2
    shift 2
    /usr/sbin/ip netns exec "$ns" "$@" &
    echo $! > "$pidfile"
}

# crash_keepalived MAIN_PID VRRP_PID: keepalived's VRRP process dies as in a crash, without
# resigning, and nothing of that keepalived is left. Its main process is stopped first: it
# restarts a VRRP child that dies (vrrp_daemon.c, vrrp_respawn_thread), and a child restarted
# just before the main process is killed can outlive it, go on as master and take the VIP
# back from whoever the test expects to hold it. Killed after its parent, the VRRP child
# would instead resign cleanly (PR_SET_PDEATHSIG, SIGTERM), which is not a crash.
crash_keepalived() {
    kill -STOP "$1" 2>/dev/null
    kill -9 "$2" 2>/dev/null
    kill -9 "$1" 2>/dev/null
    wait_until dead "$1" && wait_until dead "$2"
}

# dead PID: the process has ended (a zombie counts: no one may reap it here).
dead() { ! grep -q '^State:[[:space:]]*[^Z]' "/proc/$1/status" 2>/dev/null; }

# now_ms: milliseconds of the monotonic clock (10 ms steps).
now_ms() { awk '{printf "%d\n", $1 * 1000}' /proc/uptime; }

# until_ms LIMIT_MS COMMAND...: prints how many ms until the command succeeded, or "timeout"
# (and fails) past the limit.
until_ms() {
    local limit=$1 start
    shift
    start=$(now_ms)
    while ! "$@" >/dev/null 2>&1; do
        [ $(($(now_ms) - start)) -gt "$limit" ] && { echo "timeout"; return 1; }
        sleep 0.01
    done
    echo $(($(now_ms) - start))
}

# wait_until COMMAND...: polls every 100 ms for up to 10 s; fails if the command never succeeds.
wait_until() {
    local i=0
    while ! "$@" >/dev/null 2>&1; do
        sleep 0.1
        i=$((i + 1))
        [ $i -gt 100 ] && return 1
    done
    return 0
}

# Where the scenarios write their daemons' logs and pid files: $LAB on the host
# (scripts/netns/run), /tmp in the VM. Where their configuration files are: $LAB, or /lab.
logdir=${LAB:-/tmp}
labdir=${LAB:-/lab}
# The scenarios' fixed configuration files (tests/fixtures/lab): copied into the VM's
# /lab/fixtures, read in place on the host.
fixtures=${FIXTURES:-/lab/fixtures}

# ms SECONDS: the seconds (a decimal such as 0.5) in milliseconds.
ms() { awk -v s="$1" 'BEGIN { printf "%d\n", s * 1000 }'; }

# wait_for SECONDS COMMAND...: polls every 50 ms until the command succeeds; fails past SECONDS.
# What a scenario waits for is a condition it can name, never a length of time.
wait_for() {
    local limit start
    limit=$(ms "$1")
    shift
    start=$(now_ms)
    while ! "$@" >/dev/null 2>&1; do
        [ $(($(now_ms) - start)) -gt "$limit" ] && return 1
        sleep 0.05
    done
    return 0
}

# holds SECONDS COMMAND...: the command succeeds at every poll (50 ms apart) for SECONDS: a
# state that must last ("lb2 stays backup"), checked all along rather than once at the end.
holds() {
    local limit start
    limit=$(ms "$1")
    shift
    start=$(now_ms)
    while [ $(($(now_ms) - start)) -le "$limit" ]; do
        "$@" >/dev/null 2>&1 || return 1
        sleep 0.05
    done
    return 0
}

# check_within DESCRIPTION SECONDS COMMAND...: the command succeeds within SECONDS; on failure
# the daemons' logs are shown (a scenario names them in $LOGS, default lb1 lb2).
check_within() {
    local what=$1
    shift
    wait_for "$@" || { logs $LOGS; fail "$what"; }
    ok "$what"
}

# check_holds DESCRIPTION SECONDS COMMAND...: the command succeeds all along for SECONDS.
check_holds() {
    local what=$1
    shift
    holds "$@" || { logs $LOGS; fail "$what"; }
    ok "$what"
}

# check_settles DESCRIPTION SECONDS EXPECTED COMMAND...: the command's output becomes EXPECTED
# within SECONDS: a value the kernel updates in its own time (IPVS folds its per-CPU counters
# into the totals every 2 s).
check_settles() {
    local what=$1 limit=$2 want=$3
    shift 3
    output_is() { [ "$("$@" 2>&1)" = "$want" ]; }
    wait_for "$limit" output_is "$@"
    check_eq "$what" "$want" "$("$@" 2>&1)"
}

# pid_of NAME: the pid of the daemon started as NAME.
pid_of() { cat "$logdir/$1.pid"; }

# start_haldir NS [NAME]: haldir in namespace NS on $labdir/NAME.toml (NAME defaults to NS), its
# pid in $logdir/NAME.pid, its log appended to $logdir/NAME.log.
start_haldir() {
    local name=${2:-$1}
    spawn_at "$1" "$logdir/$name.pid" haldir run -c "$labdir/$name.toml" 2>>"$logdir/$name.log"
}

# start_keepalived NS [NAME] [OPTION...]: keepalived in the foreground in namespace NS on
# $labdir/NAME.conf, logging to $logdir/NAME.log; its main process's pid in NAME.pid, its VRRP
# process's in NAME.vrrp.pid, its checker's in NAME.check.pid. -P: VRRP only, unless an OPTION
# says otherwise (-C for the checker only).
start_keepalived() {
    local ns=$1 name=${2:-$1}
    shift $(($# < 2 ? $# : 2))
    [ $# -gt 0 ] || set -- -P
    rm -f "$logdir/$name.vrrp.pid" "$logdir/$name.check.pid"
    spawn_at "$ns" "$logdir/$name.pid" keepalived -n -l -D "$@" -f "$labdir/$name.conf" \
        -p "$logdir/$name.main.pid" -r "$logdir/$name.vrrp.pid" -c "$logdir/$name.check.pid" \
        >>"$logdir/$name.log" 2>&1
}

# stop_daemon NAME...: SIGTERM to each, then waits until each has exited (SIGKILL after 10 s).
stop_daemon() {
    local n p
    for n in "$@"; do kill -TERM "$(pid_of "$n")" 2>/dev/null; done
    for n in "$@"; do
        p=$(pid_of "$n")
        wait_for 10 dead "$p" || kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        # keepalived's children (their pid files are gone once they are).
        for p in "$logdir/$n.vrrp.pid" "$logdir/$n.check.pid"; do
            [ -s "$p" ] && { wait_for 10 dead "$(cat "$p")" || kill -9 "$(cat "$p")" 2>/dev/null; }
        done
    done
    true
}

# settled NS...: no IPv6 address in the namespaces is tentative (duplicate address detection
# done or skipped): a tentative link-local address cannot send.
settled() {
    local ns
    for ns in "$@"; do ip -n "$ns" -6 addr show tentative | grep -q . && return 1; done
    return 0
}

# crash_daemon NAME: SIGKILL, as a crash; returns once the process is gone. A keepalived's VRRP
# process goes down with its main process (crash_keepalived says why in that order).
crash_daemon() {
    local p
    p=$(pid_of "$1")
    if [ -s "$logdir/$1.vrrp.pid" ]; then
        crash_keepalived "$p" "$(cat "$logdir/$1.vrrp.pid")"
    else
        kill -9 "$p" 2>/dev/null
        wait_for 10 dead "$p"
    fi
}

# listening NS PORT [tcp|udp]: something in NS listens on PORT.
listening() {
    at "$1" busybox netstat -ln"$(echo "${3:-tcp}" | cut -c1)" | awk -v p=":$2" '
        substr($4, length($4) - length(p) + 1) == p { found = 1 } END { exit !found }'
}

# mac_of NS [DEV]: the MAC address of DEV (default eth0) in NS.
mac_of() { ip -n "$1" -o link show "${2:-eth0}" | sed 's/.*link\/ether \([0-9a-f:]*\).*/\1/'; }

# client_sees NS [ADDRESS] [CLIENT]: CLIENT's neighbour entry for ADDRESS (default the labs' VIP)
# is NS's eth0 MAC: NS's gratuitous ARP or NA reached it.
client_sees() {
    ip -n "${3:-client}" neigh show "${2:-10.0.0.100}" | grep -q "$(mac_of "$1")"
}

# metric NS NAME: the value of one line of haldir's /metrics in NS (the labs' default port).
metric() { at "$1" curl -s --max-time 2 127.0.0.1:9474/metrics | awk -v m="$2" '$1 == m {print $2}'; }

# ipvs_total NS FIELD: the sum over the table's services of one --stats column (3: connections,
# 4: packets in): the kernel folds its per-CPU counters into these every 2 s.
ipvs_total() { at "$1" ipvsadm -Ln --stats | awk -v f="$2" '/^(TCP|UDP|FWM|SCTP)/ {s += $f} END {print s + 0}'; }

# has_vip NS [ADDRESS/PREFIX [DEV]]: the address (default the labs' VIP 10.0.0.100/32) is on DEV
# (default eth0) in namespace NS. lacks_vip: the opposite.
has_vip() { ip -n "$1" -o addr show dev "${3:-eth0}" 2>/dev/null | grep -q " ${2:-10.0.0.100/32} "; }
lacks_vip() { ! has_vip "$@"; }

# live_dests NS COUNT: namespace NS's IPVS table has COUNT real servers of weight above 0.
live_dests() { [ "$(at "$1" ipvsadm -Ln | awk '$1 == "->" && $4 + 0 > 0' | wc -l)" = "$2" ]; }

# logs [NAME...]: the last lines of each daemon's log (default lb1 lb2), to show with a failure.
logs() {
    [ $# -gt 0 ] || set -- lb1 lb2
    for n in "$@"; do echo "== $n"; tail -"${LOG_LINES:-20}" "$logdir/$n.log" 2>&1; done
}

# vrrp_instance [KEY=VALUE...]: the labs' VRRP instance as TOML, to paste into a director's file:
# VRRPv3 at 100 ms, name=VI_1 vrid=51 dev=eth0 priority=100 vip=10.0.0.100/32 unless given.
vrrp_instance() {
    local name=VI_1 vrid=51 dev=eth0 priority=100 vip=10.0.0.100/32 kv
    for kv in "$@"; do
        case $kv in
        name=*) name=${kv#name=} ;;
        vrid=*) vrid=${kv#vrid=} ;;
        dev=*) dev=${kv#dev=} ;;
        priority=*) priority=${kv#priority=} ;;
        vip=*) vip=${kv#vip=} ;;
        *) fail "vrrp_instance: unknown $kv" ;;
        esac
    done
    cat <<TOML
[[vrrp_instance]]
name = "$name"
interface = "$dev"
virtual_router_id = $vrid
priority = $priority
version = 3
advert_interval = "100ms"
virtual_ipaddress = ["$vip"]
TOML
}
