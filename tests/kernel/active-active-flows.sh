# Active-active directors under established flows (tests/kernel/active-active.lib.sh: three
# directors with haldir and BIRD, BFD on the router's sessions, mh + mh-port + sloppy_tcp +
# sync, three DR real servers). 200 long-lived flows from the client (haldir-flows) are held
# through each event, and each flow says whether it survived and whether its real server
# changed:
#   1. convergence: one ECMP route with a next hop per director, flows on every real server;
#   2. haldir alone crashes and restarts on a director: no flow lost, no route change;
#   3. a director dies (every process killed, link down): no flow lost, the router drops its
#      next hop within 1 s (BFD), no flow changes real server;
#   4. it rejoins: it announces only after its first checks and startup delay, and the flows
#      the router moves to it mid-stream go on;
#   5. a clean drain then stop of a director: withdrawn first, no flow lost.

. /lab/active-active.lib.sh
aa_topology
ALL=$(all_hops)

say "1. convergence"
aa_converged
check_eq "haldir made the VIP local on d1 itself (a local route, not an address)" \
    "local $VIP dev lo proto 200 scope host" "$(at d1 ip route show table local $VIP | sed 's/ *$//')"
check_eq "with the ARP settings of a DR director" "1 2" \
    "$(at d1 cat /proc/sys/net/ipv4/conf/all/arp_ignore) $(at d1 cat /proc/sys/net/ipv4/conf/all/arp_announce)"
check_eq "every director holds the same destinations and weights" "$(at d1 ipvsadm -Ln | awk '$1 == "->" {print $2, $3, $4}')" \
    "$(at d3 ipvsadm -Ln | awk '$1 == "->" {print $2, $3, $4}')"
wait_until sh -c "/usr/local/bin/haldir -c /lab/d1.toml status 2>&1 | grep -q 'exported by BIRD to uplink'" \
    || { at d1 haldir -c /lab/d1.toml status; fail "haldir status shows what BIRD exports"; }
ok "haldir status: $(status_of 1)"
spread=$(probe 30000 60 | awk '{print $2}' | sort | uniq -c | awk '{printf "%s ", $2}')
check_eq "60 fresh tuples reach every real server" "rs1 rs2 rs3 " "$spread"

say "2. haldir alone crashes on d1 and is restarted"
flows_start crash 20000 12
before=$(at d1 ip route show table 200)
kill -9 "$(cat /tmp/d1.pid)"
route_stays() { [ "$(at d1 ip route show table 200)" = "$before" ]; }
check_holds "the route stays in d1's table while haldir is down" 1 route_stays
aa_start d1
# The restarted daemon adopts the route: it must never leave the table (polled until the
# first checks and the startup delay are over).
t=0
while [ $t -lt 30 ]; do
    in_table d1 || { logs d1; fail "the restarted haldir withdrew the route it adopted"; }
    hops_are "$ALL" || fail "the router's route changed while haldir restarted: $(hops)"
    sleep 0.1
    t=$((t + 1))
done
ok "the restarted haldir adopted its route: never out of the table, the router's route unchanged"
grep -q "routes adopted" /tmp/d1.log || { logs d1; fail "haldir says it adopted the route"; }
no_flow_lost crash "haldir killed and restarted on d1"

say "3. d2 dies (every process killed, its link down) under 200 flows"
d2_dies_under_flows "BFD"

say "4. d2 rejoins under 200 flows"
flows_start rejoin 22000 15
# A reboot: what a boot empties goes (the IPVS table and its sync daemons, haldir's routes
# and the local VIP, /run), then the link comes back.
at d2 ipvsadm -C
at d2 ipvsadm --stop-daemon master
at d2 ipvsadm --stop-daemon backup
at d2 ip route flush table 200
at d2 ip route del local $VIP/32 dev lo table local
rm -rf /run/haldir-d2
at d2 ip link set eth0 up
aa_routing_daemon 2
started=$(now_ms)
aa_start d2
wait_until in_table d2 || wait_until in_table d2 || { logs d2; fail "d2 announces again"; }
after=$(($(now_ms) - started))
[ "$after" -ge 1000 ] || fail "d2 announced ${after} ms after its start, inside its startup delay"
grep -q "routes adopted" /tmp/d2.log && fail "d2 adopted a route a dead director cannot have kept"
ok "d2 announced ${after} ms after its start: after its first checks and its 1 s startup delay"
wait_until hops_are "$ALL" || fail "the router takes d2 back (got: $(hops))"
ok "the router holds the three next hops again"
no_flow_lost rejoin "flows moved to d2 as it rejoined"

say "5. d3 is drained, then stopped"
flows_start drain 23000 12
check_run "haldir drain --director" at d3 haldir -c /lab/d3.toml drain --director
t=$(until_ms 5000 hops_are "10.0.0.1 10.0.0.2") || fail "the router drops d3 once drained (got: $(hops))"
ok "the router dropped d3 ${t} ms after its drain"
check_eq "haldir status says why" \
    "$(printf '%-20s %s' $VIP/32 'not wanted, not in the table, not exported by BIRD  withheld: drained')" \
    "$(status_of 3)"
sleep 2 # the flows go on through the drained d3 a while
kill -TERM "$(cat /tmp/d3.pid)"
no_flow_lost drain "d3 drained and stopped"
check_run "the drain is kept for the next start" test -f /run/haldir-d3/director-drained

kill -TERM "$(cat /tmp/d1.pid)" "$(cat /tmp/d2.pid)"
