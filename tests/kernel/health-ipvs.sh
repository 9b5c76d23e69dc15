# Health checks drive the IPVS table: a real server whose HTTP server stops leaves
# `ipvsadm -Ln` (or gets weight 0 with inhibit_on_failure) within interval x fall + timeout and
# returns after rise successes; the sorry server takes over while quorum is lost (reached as
# sorry_server_forwarding says, waiting at weight 0 with sorry_server_inhibit, beside the
# inhibited servers kept at weight 0, as keepalived's check/ipwrapper.c does). The real
# server's notify_down/notify_up and the service's quorum_down/quorum_up run, in that order
# (keepalived's check/ipwrapper.c: no arguments added); inhibit_on_failure on one real server
# alone keeps that one at weight 0. With log_all_failures (keepalived's
# checker_log_all_failures) every failed probe is logged, not only the transition. With omega,
# stopping haldir runs the live servers' notify_down, then quorum_down, as keepalived's checker
# does when it shuts down (check/ipwrapper.c clear_service_rs, update_vs_notifies). The
# lvs_notify_fifo gets keepalived's RS and VS lines (check/ipwrapper.c notify_fifo_rs/vs).
# A half-open tcp check (a SYN, no connection) follows rs1 out and back the same way.

bridge br0
for ns in dir rs1 rs2 sorry; do netns $ns; done
attach dir br0 eth0 10.0.0.1/24
attach rs1 br0 eth0 10.0.0.11/24
attach rs2 br0 eth0 10.0.0.12/24
attach sorry br0 eth0 10.0.0.13/24

start_web() { serve "$1" 80 "$1"; }
stop_web() { unserve "$1" 80; }
for ns in rs1 rs2 sorry; do start_web $ns; done

cp "$fixtures/health-ipvs.toml" /lab/haldir.toml



table() { at dir ipvsadm -Ln; }
in_web() { table | awk '/10.0.0.100:80 rr/ {s=1; next} /^TCP|^UDP/ {s=0} s' | grep -q "$1"; }
not_in_web() { ! in_web "$1"; }
inhibit_weight() { table | awk '/:8080 rr/ {s=1; next} /^TCP|^UDP/ {s=0} s' | awk -v a="$1" '$2 == a {print $4}'; }
weight_is() { [ "$(inhibit_weight "$1")" = "$2" ]; }
rs_inhibit_weight() { table | awk '/:8081 rr/ {s=1; next} /^TCP|^UDP/ {s=0} s' | awk -v a="$1" '$2 == a {print $4}'; }
rs_weight_is() { [ "$(rs_inhibit_weight "$1")" = "$2" ]; }
# sorry_dests: web-sorry's destinations as "ADDRESS FORWARD WEIGHT", sorted, comma-ended.
sorry_dests() { table | awk '/10.0.0.101:80 rr/ {s=1; next} /^TCP|^UDP/ {s=0} s && $1 == "->" {print $2, $3, $4}' | sort | tr '\n' ','; }
in_half() { table | awk '/:8082 rr/ {s=1; next} /^TCP|^UDP/ {s=0} s' | grep -q "$1"; }
not_in_half() { ! in_half "$1"; }
events() { tr '\n' ' ' < /tmp/events 2>/dev/null; }
events_are() { [ "$(events)" = "$1" ]; }

spawn_at dir /tmp/haldir.pid haldir run -c /lab/haldir.toml 2>/tmp/haldir.log
haldir_pid=$(cat /tmp/haldir.pid)
wait_ready() { in_web 10.0.0.11:80 && in_web 10.0.0.12:80 && weight_is 10.0.0.11:80 1 && in_half 10.0.0.11:8082; }
t=$(until_ms 8000 wait_ready) || { cat /tmp/haldir.log; table; fail "the table is programmed"; }
ok "the table is programmed (${t} ms)"
check_run "the sorry server is not used while quorum holds" not_in_web 10.0.0.13:80
check_settles "sorry_server_inhibit: web-sorry's sorry server waits at weight 0, reached by NAT (sorry_server_forwarding)" \
    8 "10.0.0.11:80 Route 1,10.0.0.12:80 Route 1,10.0.0.13:8080 Masq 0," sorry_dests

say "rs1's HTTP server stops"
stop_web rs1
# interval x fall + timeout = 1 s x 2 + 1 s, plus one interval for where in its cycle the
# check was when the server stopped.
t=$(until_ms 4500 not_in_web 10.0.0.11:80) || { cat /tmp/haldir.log; table; fail "rs1 leaves"; }
ok "rs1 left the table after ${t} ms (bound 3000 ms + one interval)"
t=$(until_ms 4500 in_web 10.0.0.13:80) || { table; fail "the sorry server comes in"; }
ok "quorum lost (live weight 1 < 2): the sorry server took over"
check_run "rs2 left with the quorum" not_in_web 10.0.0.12:80
check_settles "web-sorry lost its quorum: rs2 (inhibit_on_failure) stays at weight 0 beside the sorry server, as in keepalived" \
    5 "10.0.0.12:80 Route 0,10.0.0.13:8080 Masq 1," sorry_dests
t=$(until_ms 4500 weight_is 10.0.0.11:80 0) || { table; fail "inhibit_on_failure sets weight 0"; }
ok "with inhibit_on_failure rs1 stays at weight 0"
t=$(until_ms 3000 rs_weight_is 10.0.0.11:80 0) || { table; fail "a real server's own inhibit_on_failure"; }
ok "inhibit_on_failure on rs1 alone keeps it at weight 0 in web-rs-inhibit"
t=$(until_ms 3000 not_in_half 10.0.0.11:8082) || { table; fail "the half-open check takes rs1 out"; }
ok "the half-open check took rs1 out (its SYN refused)"
check_run "the half-open check keeps rs2" in_half 10.0.0.12:8082
wait_until events_are "rs1_down quorum_down " || { events; fail "rs1's notify_down, then the quorum_down"; }
ok "notify_down of rs1, then quorum_down, ran: $(events)"
grep -q 'real server down.*10.0.0.11:80.*connection refused\|real server down.*connection refused.*10.0.0.11' /tmp/haldir.log \
    && ok "the transition is logged with its reason" || { cat /tmp/haldir.log; fail "the transition is logged with its reason"; }
fifo_has() { grep -qxF "$1" /tmp/fifo.log 2>/dev/null; }
wait_until fifo_has 'VS [10.0.0.100]:tcp:80 DOWN' || { cat /tmp/fifo.log; fail "the FIFO's VS line"; }
check_run "the FIFO's RS line for rs1" fifo_has 'RS [10.0.0.11]:tcp:80 [10.0.0.100]:tcp:80 DOWN'
ok "the FIFO's VS line for the lost quorum"
failures=$(grep 'check failed' /tmp/haldir.log | grep -c '10.0.0.11:80')
[ "$failures" -ge 2 ] && ok "log_all_failures: each of the $failures failed probes of rs1 is logged (fall = 2)" \
    || { cat /tmp/haldir.log; fail "log_all_failures logs every failed probe (got $failures)"; }

say "rs1 comes back"
start_web rs1
t=$(until_ms 4500 in_web 10.0.0.11:80) || { cat /tmp/haldir.log; table; fail "rs1 returns"; }
ok "rs1 returned after ${t} ms (rise = 2 successes at 1 s)"
check_run "quorum regained: rs2 is back" in_web 10.0.0.12:80
check_run "the sorry server left" not_in_web 10.0.0.13:80
check_settles "web-sorry regained it: the sorry server back at weight 0" \
    5 "10.0.0.11:80 Route 1,10.0.0.12:80 Route 1,10.0.0.13:8080 Masq 0," sorry_dests
t=$(until_ms 3000 weight_is 10.0.0.11:80 1) || { table; fail "inhibited weight restored"; }
ok "the inhibited server has its weight back"
t=$(until_ms 3000 in_half 10.0.0.11:8082) || { table; fail "the half-open check brings rs1 back"; }
ok "the half-open check brought rs1 back (a SYN-ACK)"
wait_until events_are "rs1_down quorum_down rs1_up quorum_up " || { events; fail "notify_up, then quorum_up"; }
ok "rs1's notify_up, then quorum_up, ran: $(events)"

say "haldir stops: omega tells the live servers' and the service's shutdown"
kill -TERM "$haldir_pid"
wait "$haldir_pid" || true
check_eq "rs1's notify_down, then quorum_down, ran at stop" \
    "rs1_down quorum_down rs1_up quorum_up rs1_down quorum_down " "$(events)"
