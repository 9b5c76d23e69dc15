# Active-active directors announced over BGP by a real BIRD 2 (tests/kernel/active-active.lib.sh
# with two directors): each haldir with [routing] and [[announce]], its own BIRD learning
# haldir's table 200 (`protocol kernel { kernel table 200; learn; }`) and exporting it to the
# router's BIRD (eBGP, `merge paths` into the router's kernel table). The router must hold one
# ECMP route to the VIP with a next hop per director; a director whose checks fail withdraws
# (the router drops that next hop), announces again after its hold-down, and a clean stop
# withdraws before anything else.

AA_DIRECTORS=2
. /lab/active-active.lib.sh
aa_topology
line() { printf '%-20s %s' $VIP/32 "$1"; }
status_is() { [ "$(status_of "$1")" = "$(line "$2")" ]; }

wait_until in_table d1 && wait_until in_table d2 || { logs d1 d2; fail "each haldir puts the VIP's route in table 200"; }
ok "each haldir put $VIP/32 in table 200 (proto 200) once its checks had run"
wait_until hops_are "10.0.0.1 10.0.0.2" || wait_until hops_are "10.0.0.1 10.0.0.2" \
    || { at router birdc -s /tmp/bird-router.ctl show route all; at router ip route; fail "the router holds an ECMP route over both directors (got: $(hops))"; }
ok "the router's BIRD learned it from both directors: one route, next hops $(hops)"
wait_until status_is 1 "wanted, in the table, exported by BIRD to uplink" \
    || fail "haldir status says what BIRD exports (got: $(status_of 1))"
ok "haldir status: $(status_of 1)"
check_eq "flows from 30 source ports reach every real server through the directors" "rs1 rs2 rs3 " \
    "$(probe 40000 30 | awk '{print $2}' | sort -u | tr '\n' ' ')"

say "d1's checks fail (its probes are dropped at the real servers): d1 withdraws"
for i in 1 2 3; do at rs$i nft add table inet lab; at rs$i nft add chain inet lab in '{ type filter hook input priority 0; }'; at rs$i nft add rule inet lab in ip saddr 10.0.0.1 tcp dport 80 tcp flags syn drop; done
t=$(until_ms 8000 hops_are "10.0.0.2") || { logs d1; fail "the router drops d1 (got: $(hops))"; }
withdrawn=$(now_ms)
ok "the router dropped d1's next hop ${t} ms after its probes began to fail"
check_run "d1's route is out of table 200" sh -c "! /usr/sbin/ip netns exec d1 ip route show table 200 | grep -q $VIP"
check_eq "haldir status says why" "$(line 'not wanted, not in the table, not exported by BIRD  withheld: quorum')" "$(status_of 1)"
check_eq "d1 keeps its failed servers at weight 0 (their mh slots stay in place)" "0 0 0" \
    "$(at d1 ipvsadm -Ln | awk '$1 == "->" && $2 ~ /^10/ {print $4}' | tr '\n' ' ' | sed 's/ $//')"
check_eq "the client is still served (through d2)" "rs" "$(probe 40100 1 | awk '{print $2}' | cut -c1-2)"

say "d1's checks pass again: it announces only after its hold-down (5 s from the withdrawal)"
for i in 1 2 3; do at rs$i nft delete table inet lab; done
wait_until status_is 1 "not wanted, not in the table, not exported by BIRD  withheld: hold-down" \
    || fail "d1 holds its route down once its checks pass (status: $(status_of 1))"
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
check_eq "and its VIP is no longer local" "" "$(at d2 ip route show table local $VIP)"

say "a route of someone else in haldir's table, and a rule that looks it up, are left alone and reported"
at d1 ip route add 198.51.100.7/32 dev lo table 200 proto static
at d1 ip rule add from 198.51.100.0/24 lookup 200 priority 1234
kill -TERM "$(cat /tmp/d1.pid)"
wait "$(cat /tmp/d1.pid)" 2>/dev/null
aa_start d1
wait_until in_table d1 || fail "d1 announces after its restart"
check_run "haldir status reports it" sh -c "/usr/local/bin/haldir -c /lab/d1.toml status | grep -q '198.51.100.7/32 proto 4 *someone else'"
at d1 haldir -c /lab/d1.toml status | grep -q 'rule 1234 *someone else' \
    || { at d1 haldir -c /lab/d1.toml status; grep -i rule /tmp/d1.log; at d1 ip rule; fail "haldir status reports the rule that looks up its table"; }
ok "and the rule that looks up haldir's table"
check_eq "and leaves it in the table" "198.51.100.7 dev lo proto static scope link" \
    "$(at d1 ip route show table 200 198.51.100.7 | sed 's/ *$//')"
kill -TERM "$(cat /tmp/d1.pid)"
wait "$(cat /tmp/d1.pid)" 2>/dev/null
check_eq "a clean stop leaves it too" "198.51.100.7 dev lo proto static scope link" \
    "$(at d1 ip route show table 200 198.51.100.7 | sed 's/ *$//')"
check_run "and the rule" sh -c "/usr/sbin/ip -n d1 rule show priority 1234 | grep -q 'lookup 200'"

say "without its routing daemon haldir still puts its routes; status has no exported column"
kill "$(cat /tmp/bird-d1.pid)"
aa_start d1
wait_until in_table d1 || { logs d1; fail "d1 announces without BIRD"; }
wait_until status_is 1 "wanted, in the table" || fail "status without BIRD (got: $(status_of 1))"
ok "haldir status: $(status_of 1)"
kill -TERM "$(cat /tmp/d1.pid)"
