# Active-active directors with FRR 8.4 (Debian 12) instead of BIRD on the directors
# (tests/kernel/active-active.lib.sh with AA_ROUTING=frr): zebra imports haldir's table 200,
# bgpd redistributes it to the router (BIRD, BFD on). The router must hold one ECMP route over
# the three directors, and a director killed under 200 flows must lose none, its next hop
# dropped within 1 s. Without BIRD on the directors, `haldir status` has no "exported" column
# and nothing else changes.

AA_ROUTING=frr
. /lab/active-active.lib.sh
aa_topology

say "1. convergence with FRR on the directors"
aa_converged
ok "the router learned $VIP from the three FRRs: next hops $(hops)"
check_eq "haldir status without BIRD: no exported column" \
    "$(printf '%-20s %s' $VIP/32 'wanted, in the table')" "$(status_of 1)"
spread=$(probe 30000 60 | awk '{print $2}' | sort | uniq -c | awk '{printf "%s ", $2}')
check_eq "60 fresh tuples reach every real server" "rs1 rs2 rs3 " "$spread"

say "2. d2 dies (haldir and FRR killed, its link down) under 200 flows"
d2_dies_under_flows "BFD with FRR's bfdd"

say "3. a withdrawal reaches the router through FRR"
check_run "haldir drain --director on d3" at d3 haldir -c /lab/d3.toml drain --director
t=$(until_ms 5000 hops_are "10.0.0.1") || fail "the router drops d3 once drained (got: $(hops))"
ok "the router dropped d3 ${t} ms after its drain (FRR withdrew the route)"
kill -TERM "$(cat /tmp/d1.pid)" "$(cat /tmp/d3.pid)"
