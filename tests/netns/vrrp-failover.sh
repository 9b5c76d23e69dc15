# Two haldir directors and a client on a bridge, VRRPv3 with 100 ms adverts: the higher
# priority wins; SIGKILL of the master → the backup owns the VIP within 3 × interval + skew and
# the client's neighbour entry follows (gratuitous ARP); a clean stop → takeover within the
# skew time; preempt and no-preempt on return.

bridge br0
for ns in lb1 lb2 client; do netns $ns; done
attach lb1 br0 eth0 10.0.0.11/24
attach lb2 br0 eth0 10.0.0.12/24
attach client br0 eth0 10.0.0.10/24

director() { # NAME PRIORITY PREEMPT
    cat > "$LAB/$1.toml" <<TOML
[global]
router_id = "$1"
state_dir = "$LAB/state-$1"
script_user = "root"
metrics_listen = "127.0.0.1:9474"
[[vrrp_instance]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
priority = $2
version = 3
advert_interval = "100ms"
preempt = $3
virtual_ipaddress = ["10.0.0.100/32"]
garp = { delay = "0s", repeat = 3 }
notify = { any = ["/bin/sh", "-c", "echo \\"\$@\\" >> $LAB/$1.notify", "notify"] }
TOML
}

start() { start_haldir "$1"; }
show() { LOG_LINES=1000 logs lb1 lb2; }

director lb1 150 true
director lb2 100 true
start lb1
start lb2
t=$(until_ms 3000 has_vip lb1) || { show; fail "lb1 (priority 150) becomes master"; }
ok "lb1 (priority 150) became master in ${t} ms"
check_holds "lb2 stays backup" 0.5 lacks_vip lb2
at client busybox ping -c1 -W1 10.0.0.100 >/dev/null
check_run "the client reaches the VIP at lb1's MAC" client_sees lb1

say "status and metrics agree with what the wire shows"
vrrp_status() { haldir -c "$LAB/$1.toml" status | awk '$1 == "VI_1" {print $3, $5, $7}'; }
check_eq "lb1's status: MASTER, priority 150, master itself" "MASTER 150 10.0.0.11" "$(vrrp_status lb1)"
check_eq "lb2's status: BACKUP, priority 100, master lb1" "BACKUP 100 10.0.0.11" "$(vrrp_status lb2)"
check_eq "lb1's metrics: MASTER" 1 "$(metric lb1 'haldir_vrrp_state{instance="VI_1",state="MASTER"}')"
check_eq "lb2's metrics: BACKUP" 1 "$(metric lb2 'haldir_vrrp_state{instance="VI_1",state="BACKUP"}')"
sent=$(metric lb1 'haldir_vrrp_adverts_sent_total{instance="VI_1"}')
heard=$(metric lb2 'haldir_vrrp_adverts_received_total{instance="VI_1"}')
[ "${sent:-0}" -gt 5 ] && [ "${heard:-0}" -gt 5 ] || fail "adverts counted: lb1 sent $sent, lb2 heard $heard"
ok "adverts counted: lb1 sent $sent, lb2 received $heard"

say "adverts leave with the IP header keepalived writes (vrrp_build_ip4 in keepalived/vrrp/vrrp.c)"
# Two adverts from lb1 as the client's kernel hands them over: TOS, flags, TTL, identification.
headers=$(at client python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             struct.pack("4s4s", socket.inet_aton("224.0.0.18"), socket.inet_aton("10.0.0.10")))
s.settimeout(2)
seen = []
while len(seen) < 2:
    p, (src, _) = s.recvfrom(2048)
    if src == "10.0.0.11":
        tos, ident, frag, ttl = p[1], struct.unpack("!H", p[4:6])[0], struct.unpack("!H", p[6:8])[0], p[8]
        seen.append((tos, frag, ttl, ident))
print(" ".join("tos=%#x frag=%#x ttl=%d" % x[:3] for x in seen), "ids_differ=%s" % (seen[0][3] != seen[1][3]),
      "ids_nonzero=%s" % (0 not in (seen[0][3], seen[1][3])))
PY
)
check_eq "lb1's adverts: TOS 0xc0 (network control), no DF, TTL 255, an identification of their own" \
    "tos=0xc0 frag=0x0 ttl=255 tos=0xc0 frag=0x0 ttl=255 ids_differ=True ids_nonzero=True" "$headers"

say "a reload that leaves VI_1 alone does not touch it"
flips() { metric "$1" 'haldir_vrrp_transitions_total{instance="VI_1",to="'"$2"'"}'; }
before="$(flips lb1 MASTER) $(flips lb2 BACKUP)"
sed -i 's/^router_id = "lb1"/router_id = "lb1"\nreconcile_interval = "20s"/' "$LAB/lb1.toml"
haldir -c "$LAB/lb1.toml" reload > "$LAB/reload.out" 2>&1 || { cat "$LAB/reload.out"; fail "lb1 reloads"; }
# The file watch may have applied it first: then the command finds nothing left to change.
grep -q 'global.reconcile_interval changed\|no change' "$LAB/reload.out" && ok "haldir reload: $(tr '\n' ' ' < "$LAB/reload.out")" \
    || { cat "$LAB/reload.out"; fail "haldir reload prints what changed"; }
unmoved() { [ "$before" = "$(flips lb1 MASTER) $(flips lb2 BACKUP)" ] && has_vip lb1; }
check_holds "no VRRP transition on either side, lb1 keeps the VIP" 0.5 unmoved

say "a reload that changes an instance restarts that instance with its new settings"
director lb2 200 true
haldir -c "$LAB/lb2.toml" reload > "$LAB/reload.out" 2>&1 || { cat "$LAB/reload.out"; fail "lb2 reloads"; }
t=$(until_ms 3000 has_vip lb2) || { show; fail "lb2, now priority 200, takes over"; }
ok "lb2's VI_1 restarted with priority 200 and preempted after ${t} ms"
check_eq "lb2's status says so" "MASTER 200 10.0.0.12" "$(vrrp_status lb2)"
director lb2 100 true
haldir -c "$LAB/lb2.toml" reload > /dev/null 2>&1 || fail "lb2 reloads back"
t=$(until_ms 3000 has_vip lb1) || { show; fail "lb1 preempts again"; }
ok "back at priority 100: lb1 preempted after ${t} ms"
wait_until lacks_vip lb2 || fail "lb2 released the VIP"

say "SIGKILL of the master"
kill -9 "$(pid_of lb1)"
# 3 × 100 ms + skew (156/256 × 100 ms ≈ 61 ms for priority 100) = 361 ms.
t=$(until_ms 2000 has_vip lb2) || { show; fail "lb2 takes over"; }
[ "$t" -le 500 ] && ok "lb2 owns the VIP ${t} ms after the kill (bound 361 ms + polling)" \
    || fail "lb2 took ${t} ms, over 3 × interval + skew"
# The killed haldir left its address behind, as a crashed daemon would; the host is gone.
ip -n lb1 addr del 10.0.0.100/32 dev eth0
t=$(until_ms 1000 client_sees lb2) || { ip -n client neigh; fail "the client's neighbour entry follows"; }
ok "gratuitous ARP moved the client's neighbour entry to lb2 (${t} ms)"

say "preempt: lb1 returns and takes the VIP back"
start lb1
t=$(until_ms 3000 has_vip lb1) || { show; fail "lb1 preempts"; }
ok "lb1 took the VIP back after ${t} ms"
t=$(until_ms 1000 lacks_vip lb2) || fail "lb2 releases the VIP"
ok "lb2 released it"

say "a clean stop: takeover within the skew time"
kill -TERM "$(pid_of lb1)"
t=$(until_ms 2000 has_vip lb2) || { show; fail "lb2 takes over after a clean stop"; }
[ "$t" -le 200 ] && ok "lb2 owns the VIP ${t} ms after lb1's clean stop (skew 61 ms + polling)" \
    || fail "lb2 took ${t} ms after a clean stop"
check_run "lb1 removed its VIP on the way out" lacks_vip lb1
grep -q "INSTANCE VI_1 STOP 150" "$LAB/lb1.notify" && ok "lb1 ran its notify with keepalived's arguments" \
    || { cat "$LAB/lb1.notify"; fail "notify arguments"; }
grep -q "INSTANCE VI_1 MASTER 100" "$LAB/lb2.notify" && ok "lb2 notified MASTER" || { cat "$LAB/lb2.notify"; fail "lb2 notify"; }

say "no preempt: lb1 returns and stays backup"
director lb1 150 false
start lb1
lb1_backup() { [ "$(vrrp_status lb1)" = "BACKUP 150 10.0.0.12" ]; }
wait_for 3 lb1_backup || { show; fail "lb1 starts as backup and hears lb2"; }
lb2_keeps() { has_vip lb2 && lacks_vip lb1; }
check_holds "lb2 keeps the VIP, lb1 stays backup" 1.5 lb2_keeps
stop_daemon lb1 lb2

say "a client's HTTP requests keep being answered across failovers"
rm -f "$LAB/lb1.pid" "$LAB/lb2.pid"
for ns in lb1 lb2; do ip -n $ns addr del 10.0.0.100/32 dev eth0 2>/dev/null; done
director lb1 150 true
director lb2 100 true
serve lb1 80 lb1
serve lb2 80 lb2
start lb1
start lb2
t=$(until_ms 3000 has_vip lb1) || fail "lb1 master again"
# The client asks every 20 ms, until told to stop, and records when each answer came and from
# whom.
rm -f "$LAB/answers" "$LAB/stop-client"
(
    while [ ! -e "$LAB/stop-client" ]; do
        a=$(at client curl -s --max-time 0.2 http://10.0.0.100/ 2>/dev/null)
        echo "$(now_ms) ${a:-none}"
        sleep 0.02
    done
) > "$LAB/answers" &
client=$!
# answered_by NAME COUNT: the last COUNT answers all came from NAME.
answered_by() { [ "$(tail -n "$2" "$LAB/answers" | awk -v n="$1" '$2 == n' | wc -l)" = "$2" ]; }
wait_for 3 answered_by lb1 10 || { show; fail "lb1 answers"; }
crash_daemon lb1                           # a crash: lb2 takes over after its down timer
ip -n lb1 addr del 10.0.0.100/32 dev eth0
wait_for 5 answered_by lb2 10 || { show; fail "lb2 answers"; }
start lb1                                  # lb1 returns and preempts
wait_for 5 answered_by lb1 10 || { show; fail "lb1 answers again"; }
touch "$LAB/stop-client"
wait $client
# The longest time without an answer, in ms.
gap=$(awk '$2 != "none" { if (last) { d = $1 - last; if (d > max) max = d }; last = $1 } END { print max + 0 }' "$LAB/answers")
served=$(awk '$2 != "none"' "$LAB/answers" | awk '{print $2}' | uniq | tr '\n' ' ')
echo "answered by, in order: $served; longest gap without an answer: ${gap} ms"
case "$served" in
    "lb1 lb2 lb1 ") ok "answers came from lb1, then lb2, then lb1 again" ;;
    *) fail "answers came from lb1, then lb2, then lb1 again (got: $served)" ;;
esac
[ "$gap" -le 1000 ] && ok "the longest gap in answers was ${gap} ms (crash takeover bound 361 ms + client timeouts)" \
    || fail "gap of ${gap} ms"
stop_daemon lb1 lb2
unserve lb1 80
unserve lb2 80

say "mcast_source: the adverts leave from the configured address (keepalived's mcast_src_ip)"
rm -f "$LAB/lb1.pid" "$LAB/lb2.pid"
for ns in lb1 lb2; do ip -n $ns addr del 10.0.0.100/32 dev eth0 2>/dev/null; done
ip -n lb1 addr add 10.0.0.21/24 dev eth0
director lb1 150 true
sed -i 's|^virtual_ipaddress = \["10.0.0.100/32"\]|&\nmcast_source = "10.0.0.21"|' "$LAB/lb1.toml"
director lb2 100 true
start lb1
start lb2
wait_until has_vip lb1 || { show; fail "lb1 master with its mcast_source"; }
master_seen() { [ "$(vrrp_status lb2)" = "BACKUP 100 10.0.0.21" ]; }
wait_until master_seen || { vrrp_status lb2; fail "lb2 hears lb1's adverts from 10.0.0.21"; }
ok "lb2 sees the master at 10.0.0.21, lb1's mcast_source, not its primary 10.0.0.11"
stop_daemon lb1 lb2
