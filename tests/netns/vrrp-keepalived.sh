# haldir and keepalived as the two routers of one VRRP pair, IPv4: they elect, fail over and
# fail back correctly with v2 (with and without a password), v3 multicast and v3 unicast. Each
# setting is run both ways round: keepalived must follow haldir's adverts, haldir keepalived's.

bridge br0
for ns in h k; do netns $ns; done
attach h br0 eth0 10.0.0.11/24
attach k br0 eth0 10.0.0.12/24


haldir_conf() { # VERSION INTERVAL PRIORITY AUTH UNICAST
    {
        echo '[global]'; echo "state_dir = \"$LAB/state\""; echo 'script_user = "root"'
        echo '[[vrrp_instance]]'; echo 'name = "VI_1"'; echo 'interface = "eth0"'
        echo 'virtual_router_id = 51'; echo "priority = $3"; echo "version = $1"
        echo "advert_interval = \"$2\""; echo 'virtual_ipaddress = ["10.0.0.100/32"]'
        [ "$4" = pass ] && echo 'authentication = { type = "pass", password = "secret1" }'
        [ "$5" = unicast ] && { echo 'unicast_source = "10.0.0.11"'; echo 'unicast_peers = ["10.0.0.12"]'; }
    } > "$LAB/h.toml"
}

keepalived_conf() { # VERSION INTERVAL PRIORITY AUTH UNICAST
    {
        printf 'global_defs {\n  router_id k\n  vrrp_version %s\n  script_user root\n  enable_script_security\n}\n' "$1"
        echo 'vrrp_instance VI_1 {'
        echo '  state BACKUP'; echo '  interface eth0'; echo '  virtual_router_id 51'
        echo "  priority $3"; echo "  advert_int $2"
        [ "$4" = pass ] && printf '  authentication {\n    auth_type PASS\n    auth_pass secret1\n  }\n'
        [ "$5" = unicast ] && { echo '  unicast_src_ip 10.0.0.12'; echo '  unicast_peer { 10.0.0.11 }'; }
        echo '  virtual_ipaddress { 10.0.0.100/32 dev eth0 }'
        echo '}'
    } > "$LAB/k.conf"
}

start_h() { start_haldir h; }
start_k() { start_keepalived k; }
crash() { # NS: SIGKILL the router and drop the address it leaves behind, as a dead host would
    crash_daemon "$1" || fail "$1's processes end"
    rm -f "$LAB"/k.*.pid
    ip -n "$1" addr del 10.0.0.100/32 dev eth0 2>/dev/null
    true
}
stop_all() {
    stop_daemon h k
    for ns in h k; do ip -n $ns addr del 10.0.0.100/32 dev eth0 2>/dev/null; done
    # keepalived refuses to start while its pid files name a process.
    rm -rf "$LAB/state" "$LAB"/k.*.pid
}
LOGS="h k"

# pair LABEL VERSION H_INTERVAL K_INTERVAL AUTH UNICAST LIMIT_MS
pair() {
    local label=$1 v=$2 hi=$3 ki=$4 auth=$5 uni=$6 limit=$7 t
    say "$label: haldir 150, keepalived 100"
    haldir_conf "$v" "$hi" 150 "$auth" "$uni"; keepalived_conf "$v" "$ki" 100 "$auth" "$uni"
    start_k; start_h
    t=$(until_ms "$limit" has_vip h) || { logs h k; fail "$label: haldir is elected"; }
    check_holds "$label: haldir elected, keepalived follows its adverts" 1 lacks_vip k
    crash h
    t=$(until_ms "$limit" has_vip k) || { logs h k; fail "$label: keepalived takes over"; }
    ok "$label: haldir crashed, keepalived took over in ${t} ms"
    start_h
    t=$(until_ms "$limit" has_vip h) || { logs h k; fail "$label: haldir takes the VIP back"; }
    t2=$(until_ms "$limit" lacks_vip k) || { logs h k; fail "$label: keepalived yields"; }
    ok "$label: haldir returned and preempted (${t} ms), keepalived yielded"
    stop_all

    say "$label: keepalived 150, haldir 100"
    haldir_conf "$v" "$hi" 100 "$auth" "$uni"; keepalived_conf "$v" "$ki" 150 "$auth" "$uni"
    start_h; start_k
    t=$(until_ms "$limit" has_vip k) || { logs h k; fail "$label: keepalived is elected"; }
    check_holds "$label: keepalived elected, haldir follows its adverts" 1 lacks_vip h
    crash k
    t=$(until_ms "$limit" has_vip h) || { logs h k; fail "$label: haldir takes over"; }
    ok "$label: keepalived crashed, haldir took over in ${t} ms"
    start_k
    t=$(until_ms "$limit" lacks_vip h) || { logs h k; fail "$label: haldir yields to the returning keepalived"; }
    ok "$label: keepalived returned and preempted, haldir yielded"
    stop_all
    : > "$LAB/h.log"; : > "$LAB/k.log"
}

pair "v2" 2 1s 1 none multicast 8000
pair "v2 with password" 2 1s 1 pass multicast 8000
pair "v3 multicast" 3 100ms 0.1 none multicast 4000
pair "v3 unicast" 3 100ms 0.1 none unicast 4000
