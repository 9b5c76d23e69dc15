# Active-active directors when a real server dies (tests/kernel/active-active.lib.sh). Every
# director maps a flow to the same real server (mh with mh-port): a failed server goes to
# weight 0 and keeps its slots, so only its own flows break, and the fixed probe tuples that
# change real server are exactly the ones it had (about a third), no more. When it comes
# back, every tuple goes back where it was. Then the directors' histories differ (one reloads
# with a server added that is down, another starts from scratch with it): each still maps
# every tuple to the same real server.

. /lab/active-active.lib.sh
aa_topology
ALL=$(all_hops)
aa_converged

probe 30000 150 > /tmp/before
on_rs3=$(grep -c ' rs3$' /tmp/before)
echo "# before: $(awk '{print $2}' /tmp/before | sort | uniq -c | tr '\n' ' ')"
[ "$(grep -c ' -$' /tmp/before)" = 0 ] || fail "every probe tuple is answered"

say "rs3 dies under 200 flows"
flows_start death 20000 12
rs_stop 3
weights() { at "$1" ipvsadm -Ln | awk '$1 == "->" && $2 ~ /^10/ {print $4}' | tr '\n' ' ' | sed 's/ $//'; }
for d in d1 d2 d3; do
    wait_until sh -c "[ \"\$(/usr/sbin/ip netns exec $d ipvsadm -Ln | awk '\$2 == \"10.0.0.13:80\" {print \$4}')\" = 0 ]" \
        || fail "$d sets rs3 to weight 0 ($(weights $d))"
done
ok "every director keeps rs3 at weight 0: $(weights d1)"
flows_wait death
r=$(flows_result death)
echo "# $r"
lost=$(grep -c '^flow .* server rs3' /tmp/flows-death.txt)
broken=$(grep '^flow ' /tmp/flows-death.txt | grep -vc ' survived ')
check_eq "only rs3's flows broke" "$lost" "$broken"
check_eq "no surviving flow changed real server" 0 "$(field changed "$r")"
ok "$broken flows on rs3 ended, $(field survived "$r") others survived"

probe 30000 150 > /tmp/after
changed=$(paste -d' ' /tmp/before /tmp/after | awk '$2 != $4' | wc -l)
from_rs3=$(paste -d' ' /tmp/before /tmp/after | awk '$2 != $4 && $2 == "rs3"' | wc -l)
check_eq "only the tuples rs3 had changed real server" "$changed" "$from_rs3"
check_eq "every tuple rs3 had moved" "$on_rs3" "$changed"
[ "$(grep -c ' rs3$' /tmp/after)" = 0 ] || fail "no new flow goes to rs3"
share=$((changed * 100 / 150))
[ "$share" -ge 20 ] && [ "$share" -le 47 ] || fail "the share that moved is rs3's, about a third (got ${share} %)"
ok "$changed of 150 tuples moved (${share} %): rs3's share, no more"

say "rs3 comes back: every tuple goes back where it was"
rs_serve 3
for d in d1 d2 d3; do
    wait_until sh -c "[ \"\$(/usr/sbin/ip netns exec $d ipvsadm -Ln | awk '\$2 == \"10.0.0.13:80\" {print \$4}')\" = 1 ]" \
        || fail "$d puts rs3 back"
done
probe 30000 150 > /tmp/back
check_eq "the mapping is the one before rs3 died" "$(cat /tmp/before)" "$(cat /tmp/back)"

say "histories differ: a fourth server is added, dies, and d3 starts afresh while it is down"
# With alpha, d3 starts knowing nothing of rs4 and adds it down; the others saw it up. The
# kernel's mh gives a destination its slots by the last weight it had above 0 (0 if added at
# 0): haldir adds it at its weight in the file, then sets 0, so d3's table is theirs. The
# kernel puts an added destination at the head of its list and mh fills its table in list
# order: rs4 appended to the file is added last by the fresh d3 too, so the orders agree
# (ipvsadm sorts what it prints: the mapping through each director is the witness).
netns rs4
attach rs4 br0 eth0 10.0.0.14/24
at rs4 ip route add default via 10.0.0.254
realserver_dr rs4 $VIP
rs_serve 4
for i in 1 2 3; do
    printf '[[virtual_server.real_server]]\naddress = "10.0.0.14:80"\n' >> /lab/d$i.toml
    check_run "d$i reloads with rs4" at d$i haldir -c /lab/d$i.toml reload
done
weight_of() { at "$1" ipvsadm -Ln | awk -v rs="$2" '$2 == rs {print $4}'; }
weight_is() { [ "$(weight_of "$1" "$2")" = "$3" ]; }
for d in d1 d2 d3; do wait_until weight_is $d 10.0.0.14:80 1 || fail "$d puts rs4 in"; done
ok "rs4 is up on every director"
rs_stop 4
for d in d1 d2 d3; do wait_until weight_is $d 10.0.0.14:80 0 || fail "$d sets rs4 to 0"; done
ok "rs4 is down on every director"
kill -TERM "$(cat /tmp/d3.pid)"
wait "$(cat /tmp/d3.pid)" 2>/dev/null
at d3 ipvsadm -C
aa_start d3
weights_are() { [ "$(weights "$1")" = "$2" ]; }
wait_until weights_are d3 "1 1 1 0" || wait_until weights_are d3 "1 1 1 0" || fail "d3 is back ($(weights d3))"
check_eq "d1 (which saw rs4 up) and d3 (fresh) hold the same destinations and weights" \
    "$(at d1 ipvsadm -Ln | awk '$1 == "->" {print $2, $3, $4}')" "$(at d3 ipvsadm -Ln | awk '$1 == "->" {print $2, $3, $4}')"
wait_until hops_are "$ALL" || wait_until hops_are "$ALL" || fail "d3 announces again (got: $(hops))"
# Through one director at a time: the router's route pinned to it (BIRD puts it back later).
via() { at router ip route replace $VIP/32 via 10.0.0.$1 proto static; probe 31000 150; }
via 1 > /tmp/via-d1
via 3 > /tmp/via-d3
[ "$(grep -c ' -$' /tmp/via-d1)" = 0 ] || fail "every tuple is answered through d1"
diff=$(paste -d' ' /tmp/via-d1 /tmp/via-d3 | awk '$2 != $4' | wc -l)
check_eq "d1 and d3 map every one of 150 tuples to the same real server" 0 "$diff"
kill -TERM "$(cat /tmp/d1.pid)" "$(cat /tmp/d2.pid)" "$(cat /tmp/d3.pid)"
