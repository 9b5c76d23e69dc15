# `haldir import keepalived` in practice: keepalived run on its configuration and haldir run
# on the converted one produce the same IPVS table (ipvsadm-save -n, sorted) with every real
# server healthy; and keepalived and haldir, each on its node's reading of one shared
# configuration (@lb1/@lb2 lines), behave as one VRRP pair, either way round.

bridge br0
for ns in lb1 lb2 rs1 rs2 rs3; do netns $ns; done
attach lb1 br0 eth0 10.0.0.1/24
attach lb2 br0 eth0 10.0.0.2/24
for i in 1 2 3; do
    attach rs$i br0 eth0 10.0.0.1$i/24
    realserver_dr rs$i 10.0.0.100
    serve rs$i 80 rs$i
done

start_k() { # NS CONF ID
    rm -f /tmp/$1.k*.pid
    spawn_at "$1" "/tmp/$1.pid" keepalived -n -l -D -f "$2" -i "$3" -p "/tmp/$1.kmain.pid" \
        -r "/tmp/$1.kvrrp.pid" -c "/tmp/$1.kchk.pid" >>"/tmp/$1.log" 2>&1
}
start_h() { # NS TOML
    spawn_at "$1" "/tmp/$1.pid" haldir run -c "$2" 2>>"/tmp/$1.log"
}
stop() { # NS
    kill -TERM "$(cat "/tmp/$1.pid")" 2>/dev/null
    wait_until sh -c "! kill -0 $(cat "/tmp/$1.pid") 2>/dev/null" || kill -9 "$(cat "/tmp/$1.pid")"
    rm -f /tmp/$1.k*.pid
    at "$1" ipvsadm -C
    ip -n "$1" addr del 10.0.0.100/32 dev eth0 2>/dev/null
    true
}
dests() { at lb1 ipvsadm-save -n | grep -c '^-a'; }
has_dests() { [ "$(dests)" = "$1" ]; }
table() { at lb1 ipvsadm-save -n | sort; }
# The VRRP lines of each log: the health checks' lines would push them out of a tail.
logs() {
    for ns in lb1 lb2; do
        echo "== $ns"
        grep -v -E 'check|TCP connection|Remote Web|healthchecker|Shutting down service' /tmp/$ns.log | tail -25
    done
}

# same_table CONF DESTS [SETTLE]: keepalived's table, then haldir's from the converted file,
# each taken SETTLE seconds (default 3: two check rounds) after its real servers appeared.
same_table() {
    local conf=$1 want=$2 settle=${3:-3} name
    name=$(basename "$conf" .conf)
    say "$name: keepalived and the converted haldir program the same table"
    start_k lb1 "/lab/$conf" lb1
    wait_until has_dests "$want" || { table; logs; fail "keepalived programs $want real servers"; }
    # Every server checked, the count held all along.
    holds "$settle" has_dests "$want" || { table; fail "keepalived keeps $want real servers"; }
    keepalived_table=$(table)
    stop lb1
    haldir import keepalived "/lab/$conf" --conditional lb1 > "/lab/$name.toml" 2>/tmp/import.err \
        || { cat /tmp/import.err; fail "$name converts with nothing lost"; }
    ok "$name converts with nothing lost"
    haldir check -c "/lab/$name.toml" > /dev/null || fail "the converted $name passes haldir check"
    start_h lb1 "/lab/$name.toml"
    wait_until has_dests "$want" || { table; logs; fail "haldir programs $want real servers"; }
    holds "$settle" has_dests "$want" || { table; logs; fail "haldir keeps $want real servers"; }
    check_eq "$name: the same ipvsadm-save -n, $want real servers healthy" "$keepalived_table" "$(table)"
    stop lb1
}

same_table keepalived-dr.conf 4
same_table keepalived-nat.conf 5
# rs3 has nothing on port 81: both keep it at weight 0 once its check has failed.
same_table keepalived-tun.conf 3 6
failed_at_zero() { echo "$keepalived_table" | grep -q -- '-r 10.0.0.13:443 -i -w 0'; }
check_run "the failed server is at weight 0 in both (the tables are equal)" failed_at_zero

say "VRRP: keepalived (original, lb1) and haldir (converted, lb2) as one pair"
haldir import keepalived /lab/keepalived-dr.conf --conditional lb2 > /lab/lb2.toml 2>/dev/null || fail "lb2's reading converts"
haldir import keepalived /lab/keepalived-dr.conf --conditional lb1 > /lab/lb1.toml 2>/dev/null || fail "lb1's reading converts"
grep -q '^priority = 100' /lab/lb2.toml && grep -q '^priority = 150' /lab/lb1.toml \
    && ok "@lb1/@lb2 lines give each node its priority" || fail "each node's priority"
start_k lb1 /lab/keepalived-dr.conf lb1
start_h lb2 /lab/lb2.toml
t=$(until_ms 8000 has_vip lb1) || { logs; fail "keepalived (150) becomes master"; }
ok "keepalived (priority 150) master after $t ms"
check_holds "haldir (priority 100) stays backup" 1.5 lacks_vip lb2
crash_keepalived "$(cat /tmp/lb1.pid)" "$(cat /tmp/lb1.kvrrp.pid)" || fail "keepalived's processes end"
ip -n lb1 addr del 10.0.0.100/32 dev eth0 2>/dev/null
t=$(until_ms 6000 has_vip lb2) || { logs; fail "haldir takes over from the crashed keepalived"; }
ok "keepalived crashed: haldir took the VIP after $t ms (3 × 1 s + skew)"
# Its health checker ends with its parent (PR_SET_PDEATHSIG); no keepalived may stay behind
# on lb1 to take the VIP in what follows.
wait_until sh -c '[ -z "$(ip netns pids lb1)" ]' || { for p in $(ip netns pids lb1); do tr '\0' ' ' < /proc/$p/cmdline; echo; done; fail "nothing of keepalived left on lb1"; }
ok "nothing of keepalived left on lb1"
stop lb1
stop lb2

say "VRRP: haldir (converted, lb1) and keepalived (original, lb2), the other way round"
start_h lb1 /lab/lb1.toml
start_k lb2 /lab/keepalived-dr.conf lb2
t=$(until_ms 8000 has_vip lb1) || { logs; fail "haldir (150) becomes master"; }
ok "haldir (priority 150) master after $t ms"
check_holds "keepalived (priority 100) stays backup" 1.5 lacks_vip lb2
kill -TERM "$(cat /tmp/lb1.pid)"
# The resignation is told by keepalived itself, not by the time it took: on a loaded machine
# the VM's clock runs on while its processes wait for a core. keepalived logs the priority 0
# it heard (vrrp.c, vrrp_state_backup, with -D) and then waits the skew time only (0.61 s);
# without it, it would wait the master-down interval (3.61 s) and log nothing of the kind.
t=$(until_ms 8000 has_vip lb2) || { logs; fail "keepalived takes over after haldir's clean stop"; }
grep -q "(VI_1) Backup received priority 0 advertisement" /tmp/lb2.log \
    || { logs; fail "keepalived heard haldir's priority 0"; }
ok "haldir stopped cleanly (priority 0, heard by keepalived): keepalived took the VIP after $t ms"
stop lb2
