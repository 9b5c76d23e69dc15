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

# check_within SECONDS DESCRIPTION COMMAND...: the command succeeds within SECONDS (wait_for).
check_within() {
    local limit=$1 what=$2
    shift 2
    wait_for "$limit" "$@" && ok "$what" || fail "$what (not within ${limit} s)"
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

# links_ready NS...: in each namespace every interface is up with its carrier (LOWER_UP) and
# no address is still tentative (duplicate address detection pending).
links_ready() {
    local ns
    for ns in "$@"; do
        ip -n "$ns" -o link show | grep -v ' lo: ' | grep -qv 'LOWER_UP' && return 1
        [ -z "$(ip -n "$ns" -o addr show tentative)" ] || return 1
    done
    return 0
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
    wait_until listening "$1" "$2" || fail "the HTTP server of $1 listens on port $2"
}

unserve() {
    kill "$(cat "/tmp/httpd-$1-$2.pid")" 2>/dev/null
    wait "$(cat "/tmp/httpd-$1-$2.pid")" 2>/dev/null
    true
}

# slow_page NS PORT SECONDS TEXT: the server of `serve NS PORT` also answers /cgi-bin/slow, with
# TEXT once SECONDS have passed: a connection that lasts.
slow_page() {
    local dir="/tmp/www-$1-$2"
    mkdir -p "$dir/cgi-bin"
    printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\nsleep %s\necho %s\n' "$3" "$4" > "$dir/cgi-bin/slow"
    chmod +x "$dir/cgi-bin/slow"
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

# The daemons a scenario runs, each by a NAME of its own: its pid in $logdir/NAME.pid, its log
# in $logdir/NAME.log (those of `logs`).

# start_haldir NS NAME CONFIG [LOG]: `haldir run -c CONFIG` inside NS, in the background, its
# log appended to LOG (default $logdir/NAME.log).
start_haldir() {
    spawn_at "$1" "$logdir/$2.pid" haldir run -c "$3" 2>>"${4:-$logdir/$2.log}"
}

# start_keepalived NS NAME CONF [OPTION...]: keepalived in the foreground (-n), logging to its
# log in detail (-l -D), on CONF inside NS, in the background; OPTIONs are added (-P: VRRP
# only, -i ID: a config id). Its own pid files are $logdir/NAME.kmain.pid, .kvrrp.pid and
# .kchk.pid; those of an earlier run go first, for keepalived refuses to start while they name
# a process.
start_keepalived() {
    local ns=$1 name=$2 conf=$3
    shift 3
    rm -f "$logdir/$name".k*.pid
    spawn_at "$ns" "$logdir/$name.pid" keepalived -n -l -D -f "$conf" -p "$logdir/$name.kmain.pid" \
        -r "$logdir/$name.kvrrp.pid" -c "$logdir/$name.kchk.pid" "$@" >>"$logdir/$name.log" 2>&1
}

# pid_of NAME: the pid of the daemon started as NAME.
pid_of() { cat "$logdir/$1.pid" 2>/dev/null; }

# pids_of NAME: its processes: the daemon, and a keepalived's children its pid files name.
pids_of() { cat "$logdir/$1.pid" "$logdir/$1".k*.pid 2>/dev/null | sort -u; }

# stop_daemon NAME...: each daemon stops cleanly (SIGTERM) and every process of it is waited
# for; one still there after 10 s is killed (SIGKILL), and the call fails.
stop_daemon() {
    local n p rc=0
    for n in "$@"; do kill -TERM "$(pid_of "$n")" 2>/dev/null; done
    for n in "$@"; do
        for p in $(pids_of "$n"); do
            wait_until dead "$p" || { echo "# $n ($p) did not stop: killed"; kill -9 "$p" 2>/dev/null; rc=1; }
        done
    done
    return $rc
}

# crash_daemon NAME...: each daemon dies as in a crash (SIGKILL), leaving what a crash leaves
# (its addresses, its IPVS table), and is waited for.
#
# A keepalived's VRRP process dies without resigning, and nothing of that keepalived is left.
# Its main process is stopped first: it restarts a VRRP child that dies (vrrp_daemon.c,
# vrrp_respawn_thread), and a child restarted just before the main process is killed can
# outlive it, go on as master and take the VIP back from whoever the test expects to hold it.
# Killed after its parent, the VRRP child would instead resign cleanly (PR_SET_PDEATHSIG,
# SIGTERM), which is not a crash. (Its checker ends with its parent.)
crash_daemon() {
    local n vrrp
    for n in "$@"; do
        vrrp=$(cat "$logdir/$n.kvrrp.pid" 2>/dev/null)
        if [ -n "$vrrp" ]; then
            kill -STOP "$(pid_of "$n")" 2>/dev/null
            kill -9 "$vrrp" 2>/dev/null
        fi
        kill -9 "$(pid_of "$n")" 2>/dev/null
        wait_until dead "$(pid_of "$n")" || return 1
        [ -z "$vrrp" ] || wait_until dead "$vrrp" || return 1
    done
}

# dead PID: the process has ended (a zombie counts: no one may reap it here).
dead() { ! grep -q '^State:[[:space:]]*[^Z]' "/proc/$1/status" 2>/dev/null; }

# now_ms: milliseconds of the monotonic clock (10 ms steps).
now_ms() { awk '{printf "%d\n", $1 * 1000}' /proc/uptime; }

# poll_ms STEP LIMIT_MS COMMAND...: runs the command every STEP seconds until it succeeds;
# prints how many ms that took, or "timeout" (and fails) past the limit.
poll_ms() {
    local step=$1 limit=$2 start
    shift 2
    start=$(now_ms)
    while ! "$@" >/dev/null 2>&1; do
        [ $(($(now_ms) - start)) -gt "$limit" ] && { echo "timeout"; return 1; }
        sleep "$step"
    done
    echo $(($(now_ms) - start))
}

# until_ms LIMIT_MS COMMAND...: prints how many ms until the command succeeded (polled every
# 10 ms), or "timeout" (and fails) past the limit.
until_ms() { poll_ms 0.01 "$@"; }

# tenths SECONDS: whole or decimal seconds in tenths (1.5 -> 15).
tenths() {
    local whole=${1%%.*} frac=0
    case $1 in *.*) frac=${1#*.}; frac=${frac%"${frac#?}"} ;; esac
    echo $(( ${whole:-0} * 10 + ${frac:-0} ))
}

# wait_for SECONDS COMMAND...: polls the command every 100 ms, SECONDS x 10 times at the most
# (longer in all when the command itself is slow), until it succeeds; fails, saying what it
# waited for, if it never does.
wait_for() {
    local tries i=0
    tries=$(tenths "$1")
    shift
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt "$tries" ] && { echo "# not so after $tries polls 100 ms apart: $*"; return 1; }
        sleep 0.1 # the poll interval
    done
    return 0
}

# wait_until COMMAND...: wait_for 10 seconds.
wait_until() { wait_for 10 "$@"; }

# holds SECONDS COMMAND...: the command succeeds all along SECONDS (polled every 100 ms, and at
# the end); fails as soon as it does not, saying after how long: what must not happen during
# a period, checked through the whole of it.
holds() {
    local limit t
    limit=$(( $(tenths "$1") * 100 ))
    shift
    if t=$(poll_ms 0.1 "$limit" not "$@"); then
        echo "# no longer so after $t ms of $limit: $*"
        return 1
    fi
    return 0
}

# not COMMAND...: the command fails.
not() { ! "$@"; }

# Where the scenarios write their daemons' logs: $LAB on the host (scripts/netns/run), /tmp in
# the VM.
logdir=${LAB:-/tmp}

# mac_of NS [DEV]: the MAC address of DEV (default eth0) in namespace NS.
mac_of() { ip -n "$1" -o link show "${2:-eth0}" 2>/dev/null | sed 's/.*link\/ether \([0-9a-f:]*\).*/\1/'; }

# has_vip NS [ADDRESS/PREFIX [DEV]]: the address (default the labs' VIP 10.0.0.100/32) is on DEV
# (default eth0) in namespace NS. lacks_vip: the opposite.
has_vip() { ip -n "$1" -o addr show dev "${3:-eth0}" 2>/dev/null | grep -q " ${2:-10.0.0.100/32} "; }
lacks_vip() { ! has_vip "$@"; }

# live_dests NS COUNT: namespace NS's IPVS table has COUNT real servers of weight above 0.
live_dests() { [ "$(at "$1" ipvsadm -Ln | awk '$1 == "->" && $4 + 0 > 0' | wc -l)" = "$2" ]; }

# listening NS PORT [udp]: a socket of namespace NS listens on TCP PORT (is bound to UDP PORT).
listening() {
    local port
    port=$(printf ':%04X' "$2")
    if [ "${3:-tcp}" = udp ]; then
        at "$1" cat /proc/net/udp /proc/net/udp6 2>/dev/null \
            | awk -v p="$port" 'substr($2, length($2) - 4) == p {f = 1} END {exit !f}'
    else
        at "$1" cat /proc/net/tcp /proc/net/tcp6 2>/dev/null \
            | awk -v p="$port" 'substr($2, length($2) - 4) == p && $4 == "0A" {f = 1} END {exit !f}'
    fi
}

# hex_ip A.B.C.D: the address as /proc/net shows it (in host order: 10.0.0.11 -> 0B00000A).
hex_ip() {
    local IFS=.
    set -- $1
    printf '%02X%02X%02X%02X' "$4" "$3" "$2" "$1"
}

# observing NS SOURCE: a raw socket of namespace NS takes SOURCE's VRRP adverts (protocol 112
# to 224.0.0.18), as tests/netns/tools/advert-gaps.py opens it: the observer is listening.
observing() {
    at "$1" cat /proc/net/raw | grep -q " 120000E0:0070 $(hex_ip "$2"):0000 "
}

# logs [NAME...]: the last lines of each daemon's log (default lb1 lb2), to show with a failure.
logs() {
    [ $# -gt 0 ] || set -- lb1 lb2
    for n in "$@"; do echo "== $n"; tail -"${LOG_LINES:-20}" "$logdir/$n.log"; done
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
