# An operator's session with the Debian package on Debian 12, systemd as PID 1 (the
# real-systemd lab, scripts/systemd-lab): install, start, status, reloads good and bad, a
# check failing and returning, a drain across a restart, kill -9, the watchdog (a hung daemon,
# a stuck VRRP thread), a stalled journal, a stop with a slow notify script, the journal's
# priorities, and no sandbox denial. ipvsadm is the witness.

say "the package installs"
check_run "dpkg -i installs haldir" dpkg -i /lab/haldir.deb
check_run "the unit is known and enabled" systemctl is-enabled haldir

# A director: VRRP on lab0 (a veth whose peer sits in a namespace), one service whose real
# server (busybox httpd) lives in namespace rs1, checked over TCP.
ip link add lab0 type veth peer name peer0
ip netns add peer
ip link set peer0 netns peer
ip addr add 10.0.0.11/24 dev lab0
ip link set lab0 up
ip -n peer link set peer0 up
ip netns add rs1
ip link add rs0 type veth peer name rs1-eth0
ip link set rs1-eth0 netns rs1
ip addr add 10.0.1.1/24 dev rs0
ip link set rs0 up
ip -n rs1 addr add 10.0.1.2/24 dev rs1-eth0
ip -n rs1 link set rs1-eth0 up
ip -n rs1 link set lo up
mkdir -p /srv/www && echo rs1 > /srv/www/index.html
httpd_up() { ip netns exec rs1 busybox httpd -p 10.0.1.2:80 -h /srv/www; }
httpd_down() { ip netns exec rs1 pkill -f 'busybox httpd' || true; }
httpd_up

conf() { # WEIGHT [EXTRA LINE]
    cat > /etc/haldir/haldir.toml <<TOML
[global]
router_id = "director"
script_user = "root"
$2
[[vrrp_instance]]
name = "VI_1"
interface = "lab0"
virtual_router_id = 51
priority = 150
version = 3
advert_interval = "100ms"
virtual_ipaddress = ["10.0.0.100/32"]
notify = { stop = ["/bin/sh", "-c", "sleep 4; touch /run/haldir/stop-notified"] }
[[virtual_server]]
name = "web"
address = "10.0.0.100:80"
forwarding = "nat"
[virtual_server.check]
type = "tcp"
interval = "500ms"
timeout = "1s"
fall = 1
rise = 1
[[virtual_server.real_server]]
address = "10.0.1.2:80"
weight = $1
TOML
}
weight() { ipvsadm -Ln -t 10.0.0.100:80 2>/dev/null | awk '$2 == "10.0.1.2:80" {print $4}'; }
has_weight() { [ "$(weight)" = "$1" ]; }
main_pid() { systemctl show -p MainPID --value haldir; }
journal() { journalctl -u haldir --no-pager -o cat "$@"; }

say "start"
conf 1
check_run "systemctl start haldir (returns at READY)" systemctl start haldir
check_eq "the unit is active" active "$(systemctl is-active haldir)"
wait_until has_weight 1 || { journal | tail -20; fail "the service and its checked real server are in IPVS"; }
ok "ipvsadm: 10.0.0.100:80 -> 10.0.1.2:80 weight 1"
wait_until sh -c "ip -o addr show dev lab0 | grep -q ' 10.0.0.100/32 '" || fail "VRRP master: the VIP is on lab0"
ok "VRRP master: the VIP is on lab0"
check_run "haldir status answers" sh -c "haldir status | grep -q 'VI_1.*MASTER'"

say "reload"
conf 3
check_run "systemctl reload haldir applies a good file" systemctl reload haldir
wait_until has_weight 3 || fail "the new weight is in IPVS"
ok "ipvsadm: weight 3"
saved=$(ipvsadm-save -n)
cp /etc/haldir/haldir.toml /root/good.toml
echo 'bogus = 1' >> /etc/haldir/haldir.toml
check_status "systemctl reload haldir fails on a refused file" 1 systemctl reload haldir
check_eq "the table is untouched" "$saved" "$(ipvsadm-save -n)"
check_eq "the daemon kept running" active "$(systemctl is-active haldir)"
cp /root/good.toml /etc/haldir/haldir.toml
check_run "the good file reloads" systemctl reload haldir

say "the journal's priorities"
journal -p err | grep -q 'unknown key `bogus`' && ok "journalctl -p err shows the refused reload" \
    || { journal -p err; fail "journalctl -p err shows the refused reload"; }
journal -p err | grep -q 'configuration reloaded' && fail "an info line is not an error"
ok "info lines are not errors"
journal -p info | grep -q 'configuration reloaded' || fail "journalctl -p info shows the reload"
ok "journalctl -p info shows the reload"
journal | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' && fail "no second timestamp in the journal"
ok "no second timestamp in the journal's lines"

say "a check fails and returns"
httpd_down
wait_until sh -c "! ipvsadm -Ln -t 10.0.0.100:80 | grep -q 10.0.1.2:80" || fail "the failed real server leaves IPVS"
ok "the failed real server left IPVS"
httpd_up
wait_until has_weight 3 || fail "the real server returns"
ok "the real server returned"

say "a drain outlives a restart"
check_run "haldir drain" haldir drain web 10.0.1.2:80
wait_until has_weight 0 || fail "drained: weight 0"
check_run "the drain is kept in /var/lib/haldir" test -s /var/lib/haldir/drained.json
check_run "systemctl restart haldir" systemctl restart haldir
sleep 1
check_eq "still drained after the restart" 0 "$(weight)"
check_run "haldir undrain" haldir undrain web 10.0.1.2:80
wait_until has_weight 3 || fail "undrained: weight 3"

say "kill -9: systemd restarts it, the table is adopted"
saved=$(ipvsadm-save -n)
pid=$(main_pid)
since=$(date '+%Y-%m-%d %H:%M:%S')
kill -9 "$pid"
restarted() { p=$(main_pid); [ "$p" != 0 ] && [ "$p" != "$pid" ] && [ "$(systemctl is-active haldir)" = active ]; }
wait_until restarted || fail "systemd restarts the killed daemon"
ok "restarted: MainPID $pid -> $(main_pid)"
check_eq "the table is as it was" "$saved" "$(ipvsadm-save -n)"
journal --since "$since" | grep -q ' applied\|applied$' && { journal --since "$since"; fail "no IPVS operation at the restart"; }
ok "no IPVS operation at the restart: the table was adopted"

say "the watchdog restarts a hung daemon"
mkdir -p /etc/systemd/system/haldir.service.d
# No journald rate limit for haldir: the stalled-journal test below floods it on purpose, and
# its check of haldir's report of the dropped lines must not depend on journald's.
printf '[Service]\nWatchdogSec=3s\nLogRateLimitIntervalSec=0\n' > /etc/systemd/system/haldir.service.d/watchdog.conf
systemctl daemon-reload
check_run "restart with a 3 s watchdog" systemctl restart haldir
pid=$(main_pid)
kill -STOP "$pid"
i=0
# systemd sends SIGABRT at the timeout; a stopped process takes it only as SIGKILL after
# TimeoutAbortSec (the unit's 20 s stop timeout), then the restart follows RestartSec.
until restarted; do sleep 0.5; i=$((i + 1)); [ $i -gt 90 ] && fail "the watchdog restarts the stopped daemon"; done
ok "the watchdog ended the hung daemon and systemd restarted it"
journal | grep -q 'Watchdog timeout' || journalctl --no-pager | grep -q 'haldir.service: Watchdog timeout' \
    || fail "systemd logged the watchdog timeout"
ok "systemd logged the watchdog timeout"

say "the watchdog restarts a director whose VRRP thread is stuck"
# Only the VRRP thread stops (ptrace's PTRACE_SEIZE then PTRACE_INTERRUPT on that one thread,
# x86-64 system call 101, from perl-base): the daemon's own loop, which sends the pings, runs
# on. haldir feeds the watchdog only while the VRRP thread answers its pings.
wait_until restarted || fail "the daemon is back after the watchdog test"
pid=$(main_pid)
tid=$(grep -l '^haldir-vrrp$' /proc/"$pid"/task/*/comm | cut -d/ -f5)
[ -n "$tid" ] || fail "the VRRP thread is found"
since=$(date '+%Y-%m-%d %H:%M:%S')
perl -e '$t = 0 + shift; syscall(101, 0x4206, $t, 0, 0) == 0 or die "seize: $!";
    syscall(101, 0x4207, $t, 0, 0) == 0 or die "interrupt: $!"; sleep 120' "$tid" 2>&1 &
tracer=$!
timed_out() { journalctl --no-pager -o cat --since "$since" | grep -q 'haldir.service: Watchdog timeout'; }
i=0
until timed_out; do
    sleep 0.5; i=$((i + 1))
    [ $i -gt 60 ] && { grep State /proc/"$pid"/task/"$tid"/status; journal | tail -n 15; kill "$tracer"; fail "the watchdog times out"; }
done
ok "systemd's watchdog timed out while the VRRP thread was stopped"
# The stopped thread is the tracer's to reap once killed: the tracer goes, the process ends.
kill "$tracer"
i=0
until restarted; do sleep 0.5; i=$((i + 1)); [ $i -gt 60 ] && { journal | tail -n 15; fail "systemd restarts the director"; }; done
ok "systemd restarted the director: MainPID $pid -> $(main_pid)"
journal --since "$since" | grep -q "VRRP's thread has not answered" || fail "haldir said why it stopped feeding the watchdog"
ok "haldir said why it stopped feeding the watchdog"

say "a stalled journal does not stop the director"
# journald stopped: nothing reads haldir's stream. Ten reloads that change 2,000 services
# each log about 30,000 lines: more than the stream holds (systemd gives it an 8 MiB send
# buffer, about 9,000 lines) and haldir's queue (2 MiB, about 12,000) together. haldir drops
# and counts what its queue cannot hold; its loop, its VRRP adverts and
# the watchdog go on (the 3 s watchdog would restart a daemon blocked on a write).
big_conf() { # WEIGHT
    conf 1 'metrics_listen = "127.0.0.1:9474"'
    for port in $(seq 1000 2999); do
        printf '[[virtual_server]]\nname = "s%s"\naddress = "10.0.0.100:%s"\nforwarding = "nat"\n[[virtual_server.real_server]]\naddress = "10.0.1.2:80"\nweight = %s\n' \
            "$port" "$port" "$1" >> /etc/haldir/haldir.toml
    done
}
services_at() { [ "$(ipvsadm -Ln | awk -v w="$1" '$2 == "10.0.1.2:80" && $4 == w' | wc -l)" -ge 2000 ]; }
sent() { haldir status --json | tr -d ' \n' | grep -o '"adverts_sent":[0-9]*' | head -n 1 | cut -d: -f2; }
big_conf 2
check_run "reload to 2,000 services" timeout 60 haldir reload
wait_until services_at 2 || fail "2,000 services in IPVS"
pid=$(main_pid)
sent0=$(sent)
jpid=$(systemctl show -p MainPID --value systemd-journald)
stalled_fail() { kill -CONT "$jpid"; fail "$1"; } # journald must not stay stopped
since=$(date '+%Y-%m-%d %H:%M:%S')
kill -STOP "$jpid" || fail "journald stops"
[ "$(awk '{print $3}' /proc/"$jpid"/stat)" = T ] || stalled_fail "journald is stopped"
ok "journald is stopped"
for w in $(seq 3 12); do
    big_conf "$w"
    timeout 30 haldir reload > /dev/null || stalled_fail "haldir reload answers while the journal is stalled (weight $w)"
done
ok "ten reloads of 2,000 changes each answered while journald was stopped"
services_at 12 || stalled_fail "the last reload is in IPVS"
ok "ipvsadm: the last reload's weights are in IPVS"
sleep 6 # two watchdog periods
[ "$(main_pid)" = "$pid" ] || stalled_fail "the watchdog was fed: the same daemon ($pid -> $(main_pid))"
ok "the watchdog was fed: the same daemon"
sent1=$(sent)
[ $((sent1 - sent0)) -ge 50 ] || stalled_fail "adverts went on while the journal was stalled ($sent0 -> $sent1)"
ok "adverts went on while the journal was stalled: $sent0 -> $sent1"
kill -CONT "$jpid"
dropped=$(curl -s http://127.0.0.1:9474/metrics | awk '/^haldir_log_lines_dropped_total/ {print $2}')
[ "${dropped:-0}" -gt 0 ] || { journal | grep -c 'reload change'; fail "the dropped lines are counted in /metrics ($dropped)"; }
ok "/metrics counts $dropped dropped log lines"
wait_until sh -c "journalctl -u haldir --no-pager -o cat --since '$since' | grep -q 'log lines dropped'" || fail "haldir says it dropped lines"
ok "the journal says how many lines were dropped: $(journal --since "$since" | grep 'log lines dropped' | tail -n 1)"
conf 1
check_run "back to one service" timeout 60 haldir reload

rm -r /etc/systemd/system/haldir.service.d
systemctl daemon-reload
systemctl restart haldir

say "stop: the stop notification gets its time"
rm -f /run/haldir/stop-notified
t0=$(now_ms)
check_run "systemctl stop haldir" systemctl stop haldir
took=$(( $(now_ms) - t0 ))
check_run "the 4 s stop script ran to its end" test -e /run/haldir/stop-notified
[ "$took" -ge 4000 ] || fail "the stop waited for the script ($took ms)"
ok "the stop waited for the script: $took ms"
check_run "the VIP is gone" sh -c "! ip -o addr show dev lab0 | grep -q ' 10.0.0.100/'"

say "a broken file: restart fails with the reason"
echo 'bogus = 1' >> /etc/haldir/haldir.toml
check_status "systemctl start fails" 1 systemctl start haldir
systemctl status haldir --no-pager 2>&1 | grep -q 'ExecStartPre=/usr/bin/haldir check.*FAILURE' \
    || { systemctl status haldir --no-pager; fail "systemctl status names the failed haldir check"; }
ok "systemctl status names the failed haldir check"
wait_until sh -c "journalctl -u haldir --no-pager -o cat -n 30 | grep -q 'unknown key .bogus.'" \
    || { journal | tail -20; fail "the journal gives the located reason"; }
ok "the journal gives the located reason"
cp /root/good.toml /etc/haldir/haldir.toml

say "the sandbox denied nothing"
denied=$(journal | grep -Ei 'permission denied|operation not permitted|read-only file system' || true)
[ -z "$denied" ] || { echo "$denied"; fail "no denial in haldir's journal"; }
ok "no denial in haldir's journal"
