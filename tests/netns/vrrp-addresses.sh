# Virtual addresses as keepalived writes them: one on another interface than the instance's
# (`dev`), with a label, a scope and a broadcast address; excluded addresses (held by the
# master, left out of the adverts, of any family). Each is added on its interface with its
# options, announced there (the client on the second segment learns the master's MAC for it),
# removed on a clean stop, and taken by the backup on failover. The instance's routes and
# policy rules (keepalived's virtual_routes and virtual_rules) follow the same way, a multipath
# route (keepalived's `nexthop`, and its old `via A or B`) among them.

bridge brA; bridge brB
for ns in lb1 lb2 client; do netns $ns; done
attach lb1 brA eth0 10.0.0.11/24
attach lb2 brA eth0 10.0.0.12/24
attach lb1 brB eth1 10.1.0.11/24
attach lb2 brB eth1 10.1.0.12/24
attach client brB eth0 10.1.0.10/24

director() { # NAME PRIORITY
    cat > "$LAB/$1.toml" <<TOML
[global]
state_dir = "$LAB/state-$1"
[[vrrp_instance]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
priority = $2
version = 3
advert_interval = "100ms"
virtual_ipaddress = ["10.0.0.100/32", "10.1.0.100/24 dev eth1 label eth1:vip brd +"]
virtual_ipaddress_excluded = ["10.0.0.101/32", "2001:db8::101/128", "192.0.2.1/32 dev eth1 scope link", "10.2.0.5 dev eth1 peer 10.2.0.6 noprefixroute", "2001:db8:2::5/64 dev eth1 home noprefixroute -nodad"]
virtual_routes = ["10.9.0.0/16 via 10.1.0.1 dev eth1 table 100", "blackhole 10.8.0.0/16", "src 10.0.0.100 10.7.0.0/16 dev eth0", "10.6.0.0/16 table 100 nexthop via 10.1.0.1 dev eth1 nexthop via 10.1.0.2 dev eth1 weight 2"]
virtual_rules = ["from 10.0.0.100/32 priority 1000 table 100"]
garp = { delay = "0s", repeat = 3 }
TOML
}
director lb1 150
director lb2 100
start_haldir lb1
start_haldir lb2

holds_all() { # NS: every address on its interface
    ip -n "$1" -o addr show dev eth0 | grep -q ' 10.0.0.100/32 ' \
        && ip -n "$1" -o addr show dev eth1 | grep -q ' 10.1.0.100/24 ' \
        && ip -n "$1" -o addr show dev eth0 | grep -q ' 10.0.0.101/32 ' \
        && ip -n "$1" -o addr show dev eth0 | grep -q ' 2001:db8::101/128 ' \
        && ip -n "$1" -o addr show dev eth1 | grep -q ' 192.0.2.1/32 '
}
routes_of() {
    {
        ip -n "$1" route show table 100
        ip -n "$1" route show type blackhole
        ip -n "$1" route show 10.7.0.0/16
        ip -n "$1" rule show | grep '^1000:'
    } | sed 's/ *$//'
}
routed() { [ "$(routes_of "$1" | wc -l)" = 7 ]; }
holds_none() {
    ! ip -n "$1" -o addr show | grep -q '10.0.0.100/\|10.1.0.100/\|10.0.0.101/\|2001:db8::101/\|192.0.2.1/' \
        && [ -z "$(routes_of "$1")" ]
}
t=$(until_ms 3000 holds_all lb1) || { logs; ip -n lb1 addr; fail "lb1 holds every address"; }
ok "lb1 master: the VIPs and the excluded addresses are up (${t} ms)"
check_run "lb2 holds none" holds_none lb2
wait_until routed lb1 || { routes_of lb1; logs; fail "lb1 holds its routes and rule"; }
routes_of lb1
want="10.6.0.0/16 proto static
	nexthop via 10.1.0.1 dev eth1 weight 1
	nexthop via 10.1.0.2 dev eth1 weight 2
10.9.0.0/16 via 10.1.0.1 dev eth1 proto static
blackhole 10.8.0.0/16 proto static
10.7.0.0/16 dev eth0 proto static scope link src 10.0.0.100
1000:	from 10.0.0.100 lookup 100"
check_eq "lb1's routes in table 100 and main, and its rule" "$want" "$(routes_of lb1)"
line=$(ip -n lb1 -o -4 addr show dev eth1 | grep ' 10.1.0.100/24 ')
echo "$line"
case "$line" in
    *"brd 10.1.0.255 scope global secondary eth1:vip"*) ok "on eth1 with its broadcast (brd +: the host bits set, as keepalived computes it) and label" ;;
    *) fail "10.1.0.100 on eth1 with brd 10.1.0.255, label eth1:vip" ;;
esac
# (A secondary address must have its subnet's primary's scope: the kernel refuses another.)
case "$(ip -n lb1 -o -4 addr show dev eth1 | grep ' 192.0.2.1/32 ')" in
    *"scope link"*) ok "the excluded 192.0.2.1 on eth1 with scope link" ;;
    *) fail "192.0.2.1 on eth1 with scope link" ;;
esac
# keepalived's address options, as `ip` shows them (vrrp/vrrp_ipaddress.c, alloc_ipaddress:
# peer, the IFA_F_* flags, and -nodad, which turns duplicate address detection back on).
p2p=$(ip -n lb1 -o -4 addr show dev eth1 | grep ' 10.2.0.5 ')
case "$p2p" in
    *"inet 10.2.0.5 peer 10.2.0.6/32 scope global noprefixroute eth1"*) ok "10.2.0.5 with its peer and noprefixroute" ;;
    *) echo "$p2p"; fail "10.2.0.5 peer 10.2.0.6/32 noprefixroute on eth1" ;;
esac
six=$(ip -n lb1 -o -6 addr show dev eth1 | grep ' 2001:db8:2::5/64 ')
case "$six" in
    *nodad*) echo "$six"; fail "-nodad: 2001:db8:2::5 added without IFA_F_NODAD" ;;
    *" home "*noprefixroute*) ok "2001:db8:2::5 with home and noprefixroute, and without nodad (-nodad)" ;;
    *) echo "$six"; fail "2001:db8:2::5 home noprefixroute" ;;
esac
ip -n lb1 -o -6 addr show dev eth0 | grep ' 2001:db8::101/128 ' | grep -q nodad \
    && ok "without -nodad an IPv6 address skips duplicate address detection (nodad)" \
    || fail "2001:db8::101 added with nodad"
ip -n lb1 -6 route show dev eth1 | grep -q '^2001:db8:2::/64' && fail "noprefixroute: no route for 2001:db8:2::/64" \
    || ok "noprefixroute: the kernel added no route for 2001:db8:2::/64"
at client busybox ping -c1 -W1 10.1.0.100 >/dev/null
client_sees() { ip -n client neigh show 10.1.0.100 | grep -q "$(mac_of "$1" eth1)"; }
check_run "the client on eth1's segment reaches 10.1.0.100 at lb1's eth1" client_sees lb1

say "a backup that took the addresses for a moment: the master announces them again"
# lb1 frozen: lb2 hears no advert, takes over and announces 10.1.0.100 as its own. Thawed, lb1
# reads lb2's queued adverts of a lower priority: it answers at once, lb2 yields, and lb1
# announces its addresses again, as keepalived does (vrrp.c, vrrp_state_master_rx, with
# garp_lower_prio_repeat = garp_master_repeat). Without that, the client's entry would stay
# at lb2, which no longer holds the address.
kill -STOP "$(cat "$LAB/lb1.pid")"
t=$(until_ms 3000 client_sees lb2) || { kill -CONT "$(cat "$LAB/lb1.pid")"; logs lb1 lb2; fail "lb2 takes over while lb1 is frozen"; }
ok "lb1 frozen: lb2 took over and the client's entry moved to it (${t} ms)"
sleep 0.3
kill -CONT "$(cat "$LAB/lb1.pid")"
t=$(until_ms 3000 client_sees lb1) || { ip -n client neigh; logs lb1 lb2; fail "lb1 announces its addresses again"; }
ok "lb1 thawed, heard lb2's lower priority and announced again: the client's entry is back at lb1 (${t} ms)"
wait_until holds_none lb2 || { logs lb1 lb2; fail "lb2 yields"; }
check_run "lb2 yielded every address" holds_none lb2
check_run "lb1 says why it announced again" grep -q "a lower priority master was heard" "$LAB/lb1.log"
check_run "lb1 still holds every address" holds_all lb1

say "the master dies: the backup takes every address and announces it on its interface"
kill -9 "$(cat "$LAB/lb1.pid")"
t=$(until_ms 3000 holds_all lb2) || { logs; fail "lb2 takes every address"; }
ok "lb2 holds every address (${t} ms)"
wait_until routed lb2 || { routes_of lb2; fail "lb2 holds the routes and rule"; }
ok "lb2 holds the routes and the rule"
t=$(until_ms 2000 client_sees lb2) || { ip -n client neigh; fail "the client's entry for 10.1.0.100 moves to lb2"; }
ok "gratuitous ARP on eth1 moved the client's entry to lb2 (${t} ms)"

say "a clean stop removes them all"
kill -TERM "$(cat "$LAB/lb2.pid")"
wait_until holds_none lb2 || { ip -n lb2 addr; fail "lb2 removed every address"; }
ok "lb2 removed every address, route and rule on its way out"

say "net_namespace: started outside, haldir runs in the namespace the file names"
# What lb1's crashed daemon left behind goes first, so that what follows is new.
for a in 10.0.0.100/32 10.0.0.101/32 2001:db8::101/128; do ip -n lb1 addr del "$a" dev eth0 2>/dev/null; done
for a in 10.1.0.100/24 192.0.2.1/32; do ip -n lb1 addr del "$a" dev eth1 2>/dev/null; done
ip -n lb1 route flush table 100
ip -n lb1 route del blackhole 10.8.0.0/16 2>/dev/null
ip -n lb1 route del 10.7.0.0/16 2>/dev/null
ip -n lb1 rule del priority 1000 2>/dev/null
check_run "lb1 starts with none" holds_none lb1
director lb1 150
sed -i "s|^\[global\]|[global]\nnet_namespace = \"lb1\"|" "$LAB/lb1.toml"
haldir run -c "$LAB/lb1.toml" 2>"$LAB/lb1-ns.log" &
outside=$!
t=$(until_ms 3000 holds_all lb1) || { cat "$LAB/lb1-ns.log"; fail "haldir, started outside, holds lb1's addresses in lb1"; }
ok "haldir started in the scenario's namespace holds every address in lb1's (${t} ms)"
wait_until routed lb1 || { routes_of lb1; fail "and its routes"; }
check_run "and none in the namespace it was started in" sh -c "! ip -o addr show | grep -q 10.0.0.100"
kill -TERM "$outside"
wait_until holds_none lb1 || { cat "$LAB/lb1-ns.log"; fail "its clean stop removes them from lb1"; }
ok "its clean stop removed them from lb1"

say "garp interval: the burst's gratuitous ARPs come spaced (keepalived's garp_interval)"
director lb1 150
sed -i 's|^garp = { delay = "0s", repeat = 3 }|garp = { delay = "0s", repeat = 5, interval = "100ms" }|' "$LAB/lb1.toml"
grep -q 'interval = "100ms"' "$LAB/lb1.toml" || fail "the garp interval is in the file"
# The client records when each gratuitous ARP for 10.1.0.100 arrives (sender = target).
at client python3 - "$LAB/capturing" > "$LAB/garps" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("eth0", 0))
s.settimeout(0.5)
open(sys.argv[1], "w").close()
end = time.monotonic() + 6
while time.monotonic() < end:
    try:
        f = s.recv(128)
    except socket.timeout:
        continue
    vip = bytes([10, 1, 0, 100])
    if f[28:32] == vip and f[38:42] == vip:
        print(int(time.monotonic() * 1000), flush=True)
PY
capture=$!
wait_for 3 test -e "$LAB/capturing" || fail "the client captures"
spawn_at lb1 "$LAB/lb1.pid" haldir run -c "$LAB/lb1.toml" 2>"$LAB/lb1-garp.log"
wait $capture
kill -TERM "$(cat "$LAB/lb1.pid")"
cat "$LAB/garps" | tr '\n' ' '; echo
check_eq "five gratuitous ARPs for 10.1.0.100" 5 "$(wc -l < "$LAB/garps")"
gaps=$(awk 'NR > 1 {print $1 - last} {last = $1}' "$LAB/garps" | tr '\n' ' ')
min=$(awk 'NR > 1 {d = $1 - last; if (min == "" || d < min) min = d} {last = $1} END {print min + 0}' "$LAB/garps")
[ "$min" -ge 90 ] && ok "spaced ${gaps}ms apart (interval 100 ms)" || fail "spaced by the interval: gaps ${gaps}ms"
wait

say "[static]: held whatever the VRRP state, removed on a clean stop (keepalived's static_*)"
director lb2 100
cat >> "$LAB/lb2.toml" <<'TOML'
[static]
addresses = ["10.5.0.1/24 dev eth1"]
routes = ["10.6.0.0/16 via 10.1.0.1 dev eth1 table 200"]
rules = ["from 10.5.0.0/24 priority 2000 table 200"]
TOML
spawn_at lb1 "$LAB/lb1.pid" haldir run -c "$LAB/lb1.toml" 2>>"$LAB/lb1.log"
spawn_at lb2 "$LAB/lb2.pid" haldir run -c "$LAB/lb2.toml" 2>>"$LAB/lb2.log"
statics() {
    {
        ip -n lb2 -o -4 addr show dev eth1 | grep -o ' 10.5.0.1/24 '
        ip -n lb2 route show table 200
        ip -n lb2 rule show | grep '^2000:'
    } | sed 's/^ *//; s/ *$//'
}
has_statics() { [ "$(statics | wc -l)" = 3 ]; }
wait_until has_statics || { statics; tail "$LAB/lb2.log"; fail "lb2 holds its static address, route and rule"; }
wait_until holds lb1 || fail "lb1 is master"
check_run "lb2, a backup, holds none of the VRRP ones" holds_none lb2
check_eq "lb2, a backup, holds its static ones" "10.5.0.1/24
10.6.0.0/16 via 10.1.0.1 dev eth1 proto static
2000:	from 10.5.0.0/24 lookup 200" "$(statics)"
kill -TERM "$(cat "$LAB/lb2.pid")"
no_statics() { [ -z "$(statics)" ]; }
wait_until no_statics || { statics; fail "lb2's clean stop removes them"; }
ok "lb2's clean stop removed its static address, route and rule"
kill -TERM "$(cat "$LAB/lb1.pid")"
wait
