# One row of scripts/bench/active-active, in the kernel VM: the lab with this row's settings
# (/lab/aa-env.sh), 200 flows held while d2 is killed; prints "AA-ROW key=value ...".
. /lab/aa-env.sh
. /lab/active-active.lib.sh
aa_topology
aa_converged
rx() { at "$1" cat /sys/class/net/eth0/statistics/rx_packets; }
flows_start kill 21000 20
# Which directors carry the client's flows: the packets each receives in 3 s (the flows send
# a line every 300 ms; the routing daemons' own traffic is a few packets a second).
a1=$(rx d1) a2=$(rx d2) a3=$(rx d3)
sleep 3
carrying=0
for d in "d1 $a1" "d2 $a2" "d3 $a3"; do
    set -- $d
    [ $(($(rx "$1") - $2)) -gt 100 ] && carrying=$((carrying + 1))
done
aa_kill 2
drop=$(until_ms 5000 hops_are "10.0.0.1 10.0.0.3") || drop=timeout
flows_wait kill
r=$(flows_result kill)
echo "AA-ROW row=$ROW directors=$carrying/3 drop_ms=$drop $(echo "$r" | awk '{for (i = 1; i < NF; i += 2) printf "%s=%s ", $i, $(i + 1)}')"
