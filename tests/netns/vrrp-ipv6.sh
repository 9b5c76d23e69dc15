# VRRPv3 over IPv6: two haldir directors fail over and the client's neighbour entry follows
# (unsolicited NA); haldir and keepalived interoperate both ways round.

bridge br0
for ns in lb1 lb2 client; do
    netns $ns
    no_dad $ns
done
attach lb1 br0 eth0 2001:db8::11/64
attach lb2 br0 eth0 2001:db8::12/64
attach client br0 eth0 2001:db8::10/64
wait_for 5 settled lb1 lb2 client || fail "the link-local addresses are usable"

has_vip() { ip -n "$1" -6 -o addr show dev eth0 | grep -q ' 2001:db8::100/128 '; }
only() { has_vip "$1" && lacks_vip "$2"; }
client_sees() { ip -n client -6 neigh show 2001:db8::100 | grep -q "$(mac_of "$1")"; }
haldir_conf() { # NAME PRIORITY
    cat > "$LAB/$1.toml" <<TOML
[global]
state_dir = "$LAB/state-$1"
script_user = "root"
$(vrrp_instance priority=$2 name=VI_6 vrid=61 vip=2001:db8::100/128)
TOML
}
keepalived_conf() { # NAME PRIORITY
    printf 'global_defs {\n  router_id %s\n  script_user root\n  enable_script_security\n}\nvrrp_instance VI_6 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 61\n  priority %s\n  advert_int 0.1\n  virtual_ipaddress { 2001:db8::100/128 dev eth0 }\n}\n' "$1" "$2" > "$LAB/$1.conf"
}
start_h() { start_haldir "$1"; }
start_k() { start_keepalived "$1"; }
crash() {
    crash_daemon "$1" || fail "$1's processes end"
    ip -n "$1" addr del 2001:db8::100/128 dev eth0 2>/dev/null
    rm -f "$LAB/$1".*.pid
    true
}
stop_all() {
    for n in lb1 lb2; do crash "$n"; done
    rm -rf "$LAB"/state-*
}

say "two haldir directors over IPv6"
haldir_conf lb1 150; haldir_conf lb2 100
start_h lb1; start_h lb2
t=$(until_ms 3000 only lb1 lb2) || { logs; fail "lb1 is elected"; }
ok "lb1 (150) elected over IPv6"
at client busybox ping -6 -c1 -W1 2001:db8::100 >/dev/null 2>&1
check_run "the client reaches the VIP at lb1's MAC" client_sees lb1
crash lb1
t=$(until_ms 2000 has_vip lb2) || { logs; fail "lb2 takes over"; }
ok "lb1 crashed, lb2 took over in ${t} ms"
t=$(until_ms 1000 client_sees lb2) || { ip -n client -6 neigh; fail "unsolicited NA moved the client's entry"; }
ok "unsolicited NA moved the client's neighbour entry to lb2"
stop_all

for way in "haldir keepalived" "keepalived haldir"; do
    set -- $way
    say "IPv6 interop: $1 150, $2 100"
    if [ "$1" = haldir ]; then haldir_conf lb1 150; keepalived_conf lb2 100; start_h lb1; start_k lb2
    else keepalived_conf lb1 150; haldir_conf lb2 100; start_k lb1; start_h lb2; fi
    t=$(until_ms 4000 has_vip lb1) || { logs; fail "$1 is elected"; }
    check_holds "$1 elected, $2 follows its adverts" 1 lacks_vip lb2
    crash lb1
    t=$(until_ms 3000 has_vip lb2) || { logs; fail "$2 takes over"; }
    ok "$1 crashed, $2 took over in ${t} ms"
    stop_all
    : > "$LAB/lb1.log"; : > "$LAB/lb2.log"
done
