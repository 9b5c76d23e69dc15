# use_vmac: the virtual addresses live on a macvlan with the VRRP virtual MAC
# (00:00:5e:00:01:VRID, RFC 9568 §7.3), so the client's neighbour entry never changes on
# failover. haldir (h) and keepalived (k), both with use_vmac, are the two routers: each makes
# its own vrrp.51, the master holds the VIP there, adverts and gratuitous ARPs leave from the
# virtual MAC, and the VIP moves between them both ways. As keepalived does
# (vrrp/vrrp_vmac.c, vrrp_if_config.c), haldir sets arp_ignore/arp_filter on the base
# interface while its VMAC exists, and puts them back and removes the VMAC on a clean stop;
# it also sets arp_announce 2 there, so that its own ARP requests (a reply from the VIP leaves
# by eth0) never teach the client the base MAC for the VIP.

bridge br0
for ns in h k client; do netns $ns; done
attach h br0 eth0 10.0.0.11/24
attach k br0 eth0 10.0.0.12/24
attach client br0 eth0 10.0.0.10/24
VMAC=00:00:5e:00:01:33

cat > "$LAB/h.toml" <<TOML
[global]
state_dir = "$LAB/state"
script_user = "root"
[[vrrp_instance]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
priority = 150
version = 2
advert_interval = "1s"
use_vmac = true
virtual_ipaddress = ["10.0.0.100/32"]
garp = { delay = "0s", repeat = 3 }
TOML
cp "$fixtures/vmac-keepalived.conf" "$LAB/k.conf"

start_h() { start_haldir h; }
start_k() { start_keepalived k; }
LOGS="h k"
vip_on_vmac() { ip -n "$1" -o addr show dev vrrp.51 2>/dev/null | grep -q ' 10.0.0.100/32 '; }
no_vip() { ! ip -n "$1" -o addr show | grep -q ' 10.0.0.100/'; }
client_sees_vmac() { ip -n client neigh show 10.0.0.100 | grep -q "$VMAC"; }
sysctl_of() { ip netns exec "$1" cat "/proc/sys/net/ipv4/conf/$2/$3"; }
ping_vip() { ip netns exec client busybox ping -c1 -W1 10.0.0.100 >/dev/null; }

arp_settings() { for k in arp_ignore arp_filter arp_announce; do sysctl_of h eth0 $k; done | tr '\n' ' '; }
arp_before=$(arp_settings)
start_h
t=$(until_ms 5000 vip_on_vmac h) || { logs h k; ip -n h addr; fail "haldir, alone, is master with the VIP on vrrp.51"; }
ok "haldir is master: 10.0.0.100 on vrrp.51 after ${t} ms"
check_eq "vrrp.51 has the virtual MAC" "$VMAC" "$(mac_of h vrrp.51)"
check_run "no VIP on eth0" sh -c "! ip -n h -o addr show dev eth0 | grep -q 10.0.0.100"
check_eq "arp_ignore on vrrp.51" 1 "$(sysctl_of h vrrp.51 arp_ignore)"
check_eq "arp_ignore on eth0 while the VMAC exists" 1 "$(sysctl_of h eth0 arp_ignore)"
check_eq "arp_filter on eth0 while the VMAC exists" 1 "$(sysctl_of h eth0 arp_filter)"
check_eq "arp_announce on eth0 while the VMAC exists (haldir's addition)" 2 "$(sysctl_of h eth0 arp_announce)"
t=$(until_ms 3000 ping_vip) || { logs h k; fail "the client reaches the VIP"; }

check_run "the client's entry for the VIP is the virtual MAC" client_sees_vmac

# keepalived leaves arp_announce alone: set by hand, as its users must, or its replies from the
# VIP teach the client k's eth0 MAC.
ip netns exec k sh -c "echo 2 > /proc/sys/net/ipv4/conf/eth0/arp_announce"
start_k
t=$(until_ms 5000 sh -c "ip -n k link show vrrp.51 >/dev/null 2>&1") || { logs h k; fail "keepalived makes its vrrp.51"; }
check_eq "keepalived's vrrp.51 has the same virtual MAC" "$VMAC" "$(mac_of k vrrp.51)"
h_keeps() { no_vip k && vip_on_vmac h; }
check_holds "keepalived (100) stays backup behind haldir's adverts (150), haldir keeps the VIP" 3 h_keeps

say "haldir dies: keepalived takes the VIP on its own vrrp.51, the client's entry stays"
crash_daemon h
ip -n h link del vrrp.51
t=$(until_ms 6000 vip_on_vmac k) || { logs h k; fail "keepalived takes over"; }
ok "keepalived took the VIP on vrrp.51 after ${t} ms"
t=$(until_ms 3000 ping_vip) || { logs h k; fail "the client reaches the VIP at keepalived"; }
check_run "the client's entry is still the virtual MAC" client_sees_vmac
# A dead haldir leaves its settings on eth0: the restart must not take them for eth0's own,
# which it finds in state_dir/vmac-bases.json (keepalived, which keeps them in memory only,
# puts back its own values at the stop after such a restart).
check_eq "eth0 keeps haldir's settings after kill -9" "1 1 2 " "$(arp_settings)"
check_run "eth0's own settings are kept in the state directory" test -s "$LAB/state/vmac-bases.json"

say "haldir returns with the higher priority and preempts"
start_h
t=$(until_ms 6000 vip_on_vmac h) || { logs h k; fail "haldir takes the VIP back"; }
ok "haldir took the VIP back on its vrrp.51 after ${t} ms"
t=$(until_ms 5000 no_vip k) || { logs h k; fail "keepalived lets it go"; }
# Both routers' VMACs share the MAC: the bridge follows whichever sent last, which is haldir
# again with its next advert from vrrp.51.
t=$(until_ms 3000 ping_vip) || { logs h k; fail "the client still reaches it"; }
ok "the client reaches it (${t} ms after keepalived let go)"
check_run "at the same virtual MAC" client_sees_vmac

say "a clean stop removes haldir's VMAC and puts eth0's ARP settings back"
kill -TERM "$(cat "$LAB/h.pid")"
wait_until sh -c "! ip -n h link show vrrp.51 >/dev/null 2>&1" || { logs h k; fail "vrrp.51 removed"; }
ok "vrrp.51 removed"
check_eq "eth0's ARP settings as they were (before the kill -9 too)" "$arp_before" "$(arp_settings)"
check_run "the record is gone with the last VMAC" test ! -e "$LAB/state/vmac-bases.json"
t=$(until_ms 6000 vip_on_vmac k) || { logs h k; fail "keepalived takes over after the clean stop"; }
ok "keepalived took over ${t} ms after haldir's clean stop"
stop_daemon k

# Two instances with a VMAC on one interface: eth0's settings are set at the first VMAC and
# put back at the last, as keepalived counts them (vrrp_if_config.c, reset_arp_config). A
# reload that removes the first must leave them while vrrp.52 stands, and the stop of the
# second must put back the originals, not the first's values.
say "two VMACs on eth0: a reload removes the first, a stop the second"
second='
[[vrrp_instance]]
name = "VI_2"
interface = "eth0"
virtual_router_id = 52
priority = 150
version = 2
advert_interval = "1s"
use_vmac = true
virtual_ipaddress = ["10.0.0.102/32"]'
cp "$LAB/h.toml" "$LAB/h.one"
echo "$second" >> "$LAB/h.toml"
start_h
wait_until sh -c "ip -n h link show vrrp.51 && ip -n h link show vrrp.52" >/dev/null 2>&1 || { logs h k; fail "both VMACs made"; }
ok "vrrp.51 and vrrp.52 made"
{ sed -n '1,/^\[\[vrrp_instance\]\]/p' "$LAB/h.one" | head -n -1; echo "$second"; } > "$LAB/h.two"
cp "$LAB/h.two" "$LAB/h.toml"
ip netns exec h haldir -c "$LAB/h.toml" reload > "$LAB/reload.out" 2>&1 || { cat "$LAB/reload.out"; fail "the reload that removes VI_1 is taken"; }
wait_until sh -c "! ip -n h link show vrrp.51 >/dev/null 2>&1" || { logs h k; fail "vrrp.51 removed by the reload"; }
check_run "vrrp.52 stays" sh -c "ip -n h link show vrrp.52 >/dev/null"
check_eq "eth0's settings stay while vrrp.52 stands" "1 1 2 " "$(arp_settings)"
kill -TERM "$(cat "$LAB/h.pid")"
wait_until sh -c "! ip -n h link show vrrp.52 >/dev/null 2>&1" || { logs h k; fail "vrrp.52 removed"; }
wait_until sh -c "! kill -0 $(cat "$LAB/h.pid")" || fail "haldir has stopped"
check_eq "eth0's settings put back as they were before either" "$arp_before" "$(arp_settings)"

# An instance whose VMAC was made but whose socket cannot open (a unicast_source that is not
# this host's): the daemon refuses to start, and takes the VMAC and eth0's settings back.
say "an instance that fails after its VMAC was made leaves nothing behind"
cat > "$LAB/h.toml" <<TOML
[global]
state_dir = "$LAB/state"
[[vrrp_instance]]
name = "VI_3"
interface = "eth0"
virtual_router_id = 53
priority = 150
version = 2
advert_interval = "1s"
use_vmac = true
vmac_xmit_base = true
unicast_source = "10.0.0.99"
unicast_peers = ["10.0.0.12"]
virtual_ipaddress = ["10.0.0.103/32"]
TOML
rc=0
ip netns exec h timeout 10 haldir run -c "$LAB/h.toml" > "$LAB/h3.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat "$LAB/h3.log"; fail "haldir refuses to start VI_3 (exit status $rc)"; }
grep "virtual MAC interface made" "$LAB/h3.log" | grep -q "vrrp.53" || { cat "$LAB/h3.log"; fail "vrrp.53 was made before the failure"; }
refusal="cannot start VRRP instance VI_3 on eth0: the adverts' source 10.0.0.99"
grep -q "$refusal" "$LAB/h3.log" || { cat "$LAB/h3.log"; fail "the refusal names VI_3 and its source"; }
ok "refused (exit status $rc): $(grep -o "$refusal.*" "$LAB/h3.log" | head -1)"
check_run "no vrrp.53 left" sh -c "! ip -n h link show vrrp.53 >/dev/null 2>&1"
check_eq "eth0's settings as they were" "$arp_before" "$(arp_settings)"

# A vrrp.51 with the virtual MAC but on another interface (left by a run whose instance stood
# there, then the file edited): kept, the VIP would go to the wrong segment. As keepalived
# does (vrrp/vrrp.c, "already exists but is incompatible"), haldir makes it anew on eth0.
say "a vrrp.51 left on another interface is made anew on eth0"
ip -n h link add other0 type veth peer name other1 || fail "another interface in h"
ip -n h link set other0 up
ip -n h link add vrrp.51 link other0 address "$VMAC" type macvlan mode private || fail "a vrrp.51 on it"
check_run "vrrp.51 stands on other0 with the virtual MAC" \
    sh -c "ip -n h -o link show vrrp.51 | grep 'vrrp.51@other0' | grep -q '$VMAC'"
cp "$LAB/h.one" "$LAB/h.toml"
start_h
t=$(until_ms 5000 vip_on_vmac h) || { logs h k; ip -n h -d link show vrrp.51; fail "haldir is master with the VIP on vrrp.51"; }
check_run "vrrp.51 stands on eth0 now" sh -c "ip -n h -o link show vrrp.51 | grep -q 'vrrp.51@eth0'"
t=$(until_ms 3000 ping_vip) || { logs h k; fail "the client reaches the VIP"; }
ok "the client reaches the VIP on the new vrrp.51"
stop_daemon h

# A run with a VMAC dies, and the file no longer has one: the restart takes the dead run's
# vrrp.51 away (with the VIP on it, which eth0 would answer ARP for once its settings are
# back) and puts eth0's own settings back, at once (no VMAC of its will, at its stop).
say "killed with a VMAC, restarted without: vrrp.51 taken away, eth0's settings put back at the start"
start_h
t=$(until_ms 5000 vip_on_vmac h) || { logs h k; fail "haldir is master on vrrp.51"; }
crash_daemon h || fail "haldir was killed"
check_eq "eth0 keeps haldir's settings after kill -9" "1 1 2 " "$(arp_settings)"
grep -v '^use_vmac' "$LAB/h.one" > "$LAB/h.toml"
start_h
settings_back() { [ "$(arp_settings)" = "$arp_before" ]; }
wait_until settings_back || { logs h k; fail "eth0's settings put back at the start ($(arp_settings))"; }
ok "eth0's settings put back at the start: $(arp_settings)"
grep -q "ARP settings of an earlier run's VMAC put back" "$LAB/h.log" || { logs h k; fail "the start says so"; }
ok "the start says so"
check_run "the dead run's vrrp.51 is gone" sh -c "! ip -n h link show vrrp.51 >/dev/null 2>&1"
check_run "the record is gone" test ! -e "$LAB/state/vmac-bases.json"
stop_daemon h

# The record is not trusted over what the interface shows: a value someone changed while
# haldir was dead (or a reboot) is the interface's own now.
say "a setting changed while haldir was dead is the interface's own"
cp "$LAB/h.one" "$LAB/h.toml"
start_h
t=$(until_ms 5000 vip_on_vmac h) || { logs h k; fail "haldir is master on vrrp.51"; }
crash_daemon h || fail "haldir was killed"
ip netns exec h sh -c "echo 2 > /proc/sys/net/ipv4/conf/eth0/arp_ignore"
# The dead run's VIP is still on vrrp.51: wait for the new daemon itself, not the address.
starts=$(grep -c 'haldir started' "$LAB/h.log")
start_h
wait_until sh -c "[ \$(grep -c 'haldir started' '$LAB/h.log') -gt $starts ]" || { logs h k; fail "haldir started again"; }
stop_daemon h
check_eq "eth0's arp_ignore is the one set while haldir was dead" 2 "$(sysctl_of h eth0 arp_ignore)"
check_eq "its arp_filter the one from before haldir" "$(echo "$arp_before" | cut -d' ' -f2)" "$(sysctl_of h eth0 arp_filter)"
true
