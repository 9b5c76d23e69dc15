# Runs inside scripts/netns/run (see scripts/bench/failover).
bridge br0
for ns in lb1 lb2 client; do netns $ns; done
attach lb1 br0 eth0 10.0.0.11/24
attach lb2 br0 eth0 10.0.0.12/24
attach client br0 eth0 10.0.0.10/24
serve lb1 80 lb1
serve lb2 80 lb2

has_vip() { ip -n "$1" -o addr show dev eth0 | grep -q ' 10.0.0.100/32 '; }
# A silent VIP costs each try its whole timeout: 20 ms bounds how late an answer is seen.
answer() { at client curl -s --max-time 0.02 http://10.0.0.100/ 2>/dev/null; }

haldir_conf() { # NAME PRIORITY INTERVAL
    cat > "$LAB/$1.toml" <<TOML
[global]
state_dir = "$LAB/state-$1"
script_user = "root"
[[vrrp_instance]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
priority = $2
version = 3
advert_interval = "$3"
virtual_ipaddress = ["10.0.0.100/32"]
TOML
}
keepalived_conf() { # NAME PRIORITY INTERVAL_SECONDS
    printf 'global_defs {\n  router_id %s\n  vrrp_version 3\n  script_user root\n  enable_script_security\n}\nvrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority %s\n  advert_int %s\n  virtual_ipaddress { 10.0.0.100/32 dev eth0 }\n}\n' "$1" "$2" "$3" > "$LAB/$1.conf"
}
start() { # IMPL NAME
    case $1 in
        haldir) spawn_at "$2" "$LAB/$2.pid" haldir run -c "$LAB/$2.toml" >/dev/null 2>>"$LAB/$2.log" ;;
        keepalived) spawn_at "$2" "$LAB/$2.pid" keepalived -n -D -P -f "$LAB/$2.conf" -p "$LAB/$2.main" -r "$LAB/$2.vrrp" >/dev/null 2>&1 ;;
    esac
}
crash() { # IMPL NAME: as a dead host — no resignation, its address gone
    [ "$1" = keepalived ] && kill -9 "$(cat "$LAB/$2.vrrp")" 2>/dev/null
    kill -9 "$(cat "$LAB/$2.pid")" 2>/dev/null
    ip -n "$2" addr del 10.0.0.100/32 dev eth0 2>/dev/null
    true
}
stop_all() {
    for n in lb1 lb2; do
        [ -e "$LAB/$n.vrrp" ] && kill -9 "$(cat "$LAB/$n.vrrp")" 2>/dev/null
        kill -9 "$(cat "$LAB/$n.pid" 2>/dev/null)" 2>/dev/null
        ip -n $n addr del 10.0.0.100/32 dev eth0 2>/dev/null
    done
    rm -rf "$LAB"/state-* "$LAB"/*.main "$LAB"/*.vrrp
    sleep 0.3
}

# one IMPL INTERVAL_TOML INTERVAL_KA: appends "IMPL INTERVAL ms" (kill to lb2's first answer)
# to the results. (Not called in $(...): the routers it starts would hold the capture open.)
one() {
    haldir_conf lb1 150 "$2"; haldir_conf lb2 100 "$2"
    keepalived_conf lb1 150 "$3"; keepalived_conf lb2 100 "$3"
    start "$1" lb1; start "$1" lb2
    wait_until has_vip lb1 || { echo "lb1 never became master" >&2; cat "$LAB/lb1.log" >&2; stop_all; return 1; }
    wait_until sh -c "[ \"\$(ip netns exec client curl -s --max-time 0.2 http://10.0.0.100/)\" = lb1 ]" || { stop_all; return 1; }
    sleep 0.3
    t0=$(now_ms)
    crash "$1" lb1
    while [ "$(answer)" != lb2 ]; do
        [ $(($(now_ms) - t0)) -gt 15000 ] && { stop_all; return 1; }
    done
    echo "$1 $2 $(($(now_ms) - t0))" >> "$LAB/results"
    stop_all
}

median() { sort -n | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: > "$LAB/results"
for spec in "100ms 0.1 $REPS_FAST" "1s 1 $REPS_SLOW"; do
    set -- $spec
    say "adverts every $1, $3 repetitions each"
    i=0
    while [ $i -lt "$3" ]; do
        # Alternate the two so that any drift of the machine hits both alike.
        for impl in haldir keepalived; do
            one $impl "$1" "$2" || echo "$impl $1 failed" >&2
        done
        i=$((i + 1))
    done
done

say "failover: master SIGKILL → first answer from the new master (median ms)"
printf '%-10s %10s %12s %8s %22s\n' "adverts" "haldir" "keepalived" "ratio" "3 x interval + skew"
for iv in 100ms 1s; do
    h=$(awk -v i=$iv '$1 == "haldir" && $2 == i {print $3}' "$LAB/results" | median)
    k=$(awk -v i=$iv '$1 == "keepalived" && $2 == i {print $3}' "$LAB/results" | median)
    case $iv in 100ms) bound=361 ;; 1s) bound=3609 ;; esac
    printf '%-10s %10s %12s %8.2f %22s\n' "$iv" "$h" "$k" "$(echo "$h $k" | awk '{print $1 / $2}')" "$bound"
    echo "$iv haldir: $(awk -v i=$iv '$1 == "haldir" && $2 == i {print $3}' "$LAB/results" | tr '\n' ' ')"
    echo "$iv keepalived: $(awk -v i=$iv '$1 == "keepalived" && $2 == i {print $3}' "$LAB/results" | tr '\n' ' ')"
done
unserve lb1 80
unserve lb2 80
