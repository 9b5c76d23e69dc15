# track_interface and track_script move the VIP; after a split (the link between the
# directors cut) heals, one master remains within one interval. lb2 runs with keepalived's
# process settings: its umask reaches the notify script's files, and no_swap locks its memory.
# lb1 writes keepalived's FIFO lines (vrrp/vrrp_notify.c notify_fifo) to a FIFO its handler
# reads, priority changes included. lb2's track script starts failed (keepalived's init_fail):
# FAULT until it has succeeded `rise` times.

bridge br0
for ns in lb1 lb2; do netns $ns; done
attach lb1 br0 eth0 10.0.0.11/24
attach lb2 br0 eth0 10.0.0.12/24
ip -n lb1 link add uplink type veth peer name uplink-peer
ip -n lb1 link set uplink-peer up
ip -n lb1 link set uplink up

# Where lb2's notify command, run as daemon, may write (the lab's own directory is root's).
SHARED=$(mktemp -d /tmp/haldir-shared.XXXXXX)
chmod 1777 "$SHARED"
cat > "$LAB/lb1.toml" <<TOML
[global]
state_dir = "$LAB/state-lb1"
script_user = "root"
vrrp_notify_fifo = { path = "$LAB/lb1.fifo", command = ["/bin/sh", "-c", "cat \"\$0\" >> $LAB/fifo.log"] }
notify_priority_changes = true
[[track_script]]
name = "service_ok"
command = ["/bin/sh", "-c", "test ! -e $LAB/service-down"]
interval = "100ms"
timeout = "1s"
fall = 2
rise = 2
$(vrrp_instance priority=150)
track_interface = [{ name = "uplink" }]
track_script = [{ name = "service_ok", weight = -60 }]
TOML
cat > "$LAB/lb2.toml" <<TOML
[global]
state_dir = "$LAB/state-lb2"
script_user = "root"
umask = "0027"
no_swap = true
[[track_script]]
name = "ready"
command = ["/bin/true"]
interval = "100ms"
rise = 3
init_fail = true
$(vrrp_instance priority=100)
notify = { master = ["/bin/sh", "-c", "echo \"\$(id -un) \$(id -gn)\" > $SHARED/lb2-master"], user = "daemon:daemon" }
track_script = [{ name = "ready" }]
TOML

only() { has_vip "$1" && lacks_vip "$2"; }

start_haldir lb1
start_haldir lb2
t=$(until_ms 3000 only lb1 lb2) || { logs; fail "lb1 is master"; }
ok "lb1 (150) is master"
states() { grep -o 'to="[A-Z]*"' "$LAB/lb2.log" | tr '\n' ' '; }
wait_until sh -c "grep -q 'to=\"BACKUP\"' $LAB/lb2.log" || { logs; fail "lb2 leaves FAULT"; }
check_eq "init_fail: lb2 starts in FAULT, then backs up once its script rose" 'to="FAULT" to="BACKUP" ' "$(states)"

say "track_script: the service fails, priority 150 - 60 = 90 < 100"
touch "$LAB/service-down"
t=$(until_ms 3000 only lb2 lb1) || { logs; fail "the VIP moves to lb2"; }
ok "the VIP moved to lb2 ${t} ms after the service failed (2 failures at 100 ms, then preemption)"
fifo_has() { grep -qx "$1" "$LAB/fifo.log" 2>/dev/null; }
wait_until fifo_has 'INSTANCE "VI_1" BACKUP 90' || { cat "$LAB/fifo.log"; logs; fail "lb1's FIFO lines"; }
check_eq "lb1's FIFO lines, as keepalived writes them" 'INSTANCE "VI_1" BACKUP 150
INSTANCE "VI_1" MASTER 150
INSTANCE "VI_1" MASTER_PRIORITY 90
INSTANCE "VI_1" BACKUP 90' "$(cat "$LAB/fifo.log")"
check_run "the FIFO exists while lb1 runs" test -p "$LAB/lb1.fifo"
wait_until test -s "$SHARED/lb2-master" || { logs; fail "lb2's notify master ran"; }
check_eq "the notify table's own user and group (keepalived's notify_master … USER GROUP)" "daemon daemon" "$(cat "$SHARED/lb2-master")"
check_eq "umask 0027 reaches the notify script's files" "640" "$(stat -c %a "$SHARED/lb2-master")"
locked=$(awk '/^VmLck:/ {print $2}' "/proc/$(cat "$LAB/lb2.pid")/status")
[ "${locked:-0}" -gt 0 ] && ok "no_swap: lb2 has ${locked} kB locked" || { logs; fail "no_swap locks lb2's memory (VmLck ${locked:-none})"; }
rm "$LAB/service-down"
t=$(until_ms 3000 only lb1 lb2) || { logs; fail "the VIP comes back"; }
ok "the service recovered and lb1 took the VIP back after ${t} ms"

say "track_interface: the uplink goes down, lb1 goes to FAULT"
ip -n lb1 link set uplink down
t=$(until_ms 3000 only lb2 lb1) || { logs; fail "FAULT moves the VIP"; }
ok "uplink down: lb1 resigned, lb2 took the VIP in ${t} ms"
grep -q 'to="FAULT"' "$LAB/lb1.log" && ok "lb1 went to FAULT" || { logs; fail "lb1 went to FAULT"; }
ip -n lb1 link set uplink up
t=$(until_ms 3000 only lb1 lb2) || { logs; fail "lb1 returns after the uplink"; }
ok "uplink up: lb1 left FAULT and took the VIP back after ${t} ms"

say "a split between the directors heals to one master"
ip link set vlb2eth0 down
t=$(until_ms 3000 has_vip lb2) || { logs; fail "lb2 becomes master while cut off"; }
ok "cut off, lb2 became master too (both hold the VIP)"
ip link set vlb2eth0 up
t=$(until_ms 2000 only lb1 lb2) || { logs; fail "one master after the split heals"; }
[ "$t" -le 200 ] && ok "the split healed: only lb1 is master ${t} ms after the link came back (interval 100 ms + link up)" \
    || fail "the split took ${t} ms to heal"

stop_daemon lb1 lb2
wait_until sh -c "! test -e $LAB/lb1.fifo" || fail "lb1 removes the FIFO it made"
ok "lb1 removed its FIFO at stop"
wait
rm -rf "$SHARED"
