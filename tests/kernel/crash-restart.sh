# Crash and restart of the master's haldir (SIGKILL): restarted within the master-down
# interval it adopts the IPVS table as it is (no flush: the service's counters go on), resumes
# as master at once, the backup never takes the VIP, and a long-lived connection through IPVS
# survives. Restarted later, the backup has taken over meanwhile, and hands back on return.

bridge br0
for ns in client lb1 lb2 rs1 rs2; do netns $ns; done
attach client br0 eth0 10.0.0.10/24
attach lb1 br0 eth0 10.0.0.1/24
attach lb2 br0 eth0 10.0.0.2/24
for i in 1 2; do
    attach rs$i br0 eth0 10.0.0.1$i/24
    realserver_dr rs$i 10.0.0.100
    serve rs$i 80 rs$i
    mkdir -p /tmp/www-rs$i-80/cgi-bin
    printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\nsleep 8\necho rs%s\n' $i > /tmp/www-rs$i-80/cgi-bin/slow
    chmod +x /tmp/www-rs$i-80/cgi-bin/slow
done

director() { # NAME PRIORITY
    cat > /lab/$1.toml <<TOML
[global]
router_id = "$1"
state_dir = "/run/haldir-$1"
script_user = "root"
metrics_listen = "127.0.0.1:9474"
[[vrrp_instance]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
priority = $2
version = 3
advert_interval = "1s"
virtual_ipaddress = ["10.0.0.100/32"]
[[virtual_server]]
name = "web"
address = "10.0.0.100:80"
scheduler = "rr"
forwarding = "dr"
check = { type = "tcp", interval = "1s", timeout = "1s" }
[[virtual_server.real_server]]
address = "10.0.0.11:80"
[[virtual_server.real_server]]
address = "10.0.0.12:80"
TOML
}
director lb1 150
director lb2 100
start() { start_haldir "$1"; }
conns() { at lb1 ipvsadm -Ln --stats --exact | awk '/^TCP/ {print $3}'; }

start lb1
start lb2
wait_until has_vip lb1 || { logs; fail "lb1 becomes master"; }
wait_until sh -c "at() { /usr/sbin/ip netns exec \"\$@\"; }; [ \"\$(at lb2 curl -s 127.0.0.1:9474/metrics | grep -c 'state=\"BACKUP\"} 1')\" = 1 ]" \
    || { logs; fail "lb2 is backup"; }
ok "lb1 master, lb2 backup"
check_tally "the service answers" "2 rs1
2 rs2" client http://10.0.0.100/ 4

say "SIGKILL of lb1's haldir, restarted at once, under a long-lived connection"
# The four requests counted (the kernel folds its counters into the totals every 2 s).
counted() { [ "$(conns)" -ge "$1" ]; }
wait_for 5 counted 4 || fail "the service counted the four requests ($(conns))"
before=$(conns)
spawn_at client /tmp/slow.pid sh -c "curl -s --max-time 30 http://10.0.0.100/cgi-bin/slow > /tmp/slow.out; echo \$? > /tmp/slow.rc"
wait_until sh -c "/usr/sbin/ip netns exec lb1 ipvsadm -Lnc | grep -q ESTABLISHED" || fail "the long-lived connection is established"
: > /tmp/lb1.restart.log
# Counted from here: at start-up lb2 may have been master for a moment (its master-down timer
# is only 0.2 s longer than lb1's, and lb1 is started second).
masters_before=$(metric lb2 'haldir_vrrp_transitions_total{instance="VI_1",to="MASTER"}')
kill -9 "$(cat /tmp/lb1.pid)"
spawn_at lb1 /tmp/lb1.pid haldir run -c /lab/lb1.toml 2>/tmp/lb1.restart.log
# For the master-down interval and well past it, the backup must not take the VIP.
check_holds "lb2 never took the VIP (watched for 6 s, master-down is 3.6 s)" 6 lacks_vip lb2
check_eq "lb2 made no transition to MASTER" "$masters_before" "$(metric lb2 'haldir_vrrp_transitions_total{instance="VI_1",to="MASTER"}')"
grep -q 'resuming as master' /tmp/lb1.restart.log && ok "the restarted haldir found its VIP and resumed as master" \
    || { cat /tmp/lb1.restart.log; fail "resumed as master"; }
grep -q 'applied' /tmp/lb1.restart.log && { cat /tmp/lb1.restart.log; fail "the table is adopted as it is"; }
ok "no IPVS operation at restart: the table was adopted as it is"
wait_until [ -e /tmp/slow.rc ] || wait_until [ -e /tmp/slow.rc ] || fail "the long-lived request ends"
check_eq "the long-lived connection through IPVS survived (8 s, across the crash)" "0 rs" \
    "$(cat /tmp/slow.rc) $(cut -c1-2 /tmp/slow.out)"
wait_for 5 counted $((before + 1))
after=$(conns)
[ "$after" -gt "$before" ] || fail "the service's counters went on ($before → $after): not flushed"
ok "the service's connection counter went on: $before → $after (a flushed table restarts at 0)"

say "SIGKILL of lb1's haldir, restarted after the master-down interval"
killed=$(now_ms)
kill -9 "$(cat /tmp/lb1.pid)"
t=$(until_ms 6000 has_vip lb2) || { logs; fail "lb2 takes over"; }
ok "lb2 took the VIP $t ms after the crash"
sleep 2 # lb1's host stays down a while
start lb1
t=$(until_ms 3000 lacks_vip lb2) || { logs; fail "lb2 hands the VIP back"; }
ok "lb1 resumed and lb2 handed the VIP back after $t ms"
check_run "lb1 holds it" has_vip lb1
check_tally "and the service answers through lb1" "2 rs1
2 rs2" client http://10.0.0.100/ 4
kill -TERM "$(cat /tmp/lb1.pid)" "$(cat /tmp/lb2.pid)"
