#!/bin/sh
# keepalived-dump.sh MODE CONF [IFACE...]: keepalived's own reading of CONF. In the current
# network namespace (a fresh one: the caller's), makes each IFACE (with an address), runs
# keepalived with -d and MODE (-P for the VRRP process, -C for the checker) as config id lb1,
# and prints its log once the process has dumped its configuration and stopped. keepalived's
# processes take signals only from their event loop, which starts after the dump: a SIGTERM
# sent once the dump has begun lets it finish.
mode=$1
conf=$2
shift 2
IP=/usr/sbin/ip
$IP link set lo up
k=0
for i in "$@"; do
    k=$((k + 1))
    $IP link add "$i" type dummy 2>/dev/null || $IP link add "$i" type veth peer name "kp$k" 2>/dev/null
    $IP link set "$i" up 2>/dev/null
    $IP addr add "10.255.$k.1/24" dev "$i" 2>/dev/null
done
dir=$(mktemp -d)
TMPDIR=$dir keepalived -n -l -d "$mode" -i lb1 -f "$conf" -p "$dir/m.pid" -r "$dir/v.pid" \
    -c "$dir/c.pid" -b "$dir/b.pid" > "$dir/log" 2>&1 &
pid=$!
n=0
while ! grep -q -e '------< ' "$dir/log" && kill -0 "$pid" 2>/dev/null && [ $n -lt 200 ]; do
    sleep 0.05
    n=$((n + 1))
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
cat "$dir/log"
rm -rf "$dir"
