# Runs inside the kernel lab VM (see scripts/bench/vrrp-under-load).
SERVICES=100
DESTS=100
WINDOW=30

bridge br0
for ns in lb1 lb2 obs; do netns $ns; done
attach lb1 br0 eth0 10.0.0.11/24
attach lb2 br0 eth0 10.0.0.12/24
attach obs br0 eth0 10.0.0.10/24

vrrp_toml() { # PRIORITY
    printf '[[vrrp_instance]]\nname = "VI_1"\ninterface = "eth0"\nvirtual_router_id = 51\n'
    printf 'priority = %s\nversion = 3\nadvert_interval = "100ms"\nvirtual_ipaddress = ["10.0.0.100/32"]\n' "$1"
}
table_toml() { # WEIGHT of the very first real server
    local s=0 r
    while [ $s -lt $SERVICES ]; do
        printf '[[virtual_server]]\naddress = "10.1.%d.%d:80"\nscheduler = "wlc"\nforwarding = "dr"\n' $((s / 250)) $((s % 250 + 1))
        r=0
        while [ $r -lt $DESTS ]; do
            printf '[[virtual_server.real_server]]\naddress = "10.2.%d.%d:80"\n' $((r / 250)) $((r % 250 + 1))
            [ $s = 0 ] && [ $r = 0 ] && printf 'weight = %s\n' "$1"
            r=$((r + 1))
        done
        s=$((s + 1))
    done
}
haldir_files() { # WEIGHT
    { printf '[global]\nstate_dir = "/run/haldir-lb1"\n[ipvs]\non_stop = "remove"\n'; vrrp_toml 150; table_toml "$1"; } > /lab/lb1.toml
    { printf '[global]\nstate_dir = "/run/haldir-lb2"\n'; vrrp_toml 100; } > /lab/lb2.toml
}
keepalived_files() { # WEIGHT
    {
        printf 'global_defs {\n  router_id lb1\n  vrrp_version 3\n}\n'
        printf 'vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority 150\n'
        printf '  advert_int 0.1\n  virtual_ipaddress {\n    10.0.0.100/32\n  }\n}\n'
        local s=0 r w
        while [ $s -lt $SERVICES ]; do
            printf 'virtual_server 10.1.%d.%d 80 {\n  lb_algo wlc\n  lb_kind DR\n  protocol TCP\n' $((s / 250)) $((s % 250 + 1))
            r=0
            while [ $r -lt $DESTS ]; do
                w=1; [ $s = 0 ] && [ $r = 0 ] && w=$1
                printf '  real_server 10.2.%d.%d 80 {\n    weight %s\n  }\n' $((r / 250)) $((r % 250 + 1)) $w
                r=$((r + 1))
            done
            printf '}\n'
            s=$((s + 1))
        done
    } > /lab/k1.conf
    printf 'global_defs {\n  router_id lb2\n  vrrp_version 3\n}\nvrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  advert_int 0.1\n  virtual_ipaddress {\n    10.0.0.100/32\n  }\n}\n' > /lab/k2.conf
}

has_vip() { ip -n lb1 -o addr show dev eth0 | grep -q ' 10.0.0.100/32 '; }
programmed() { [ "$(at lb1 ipvsadm -Ln | grep -c -- '->.*Route')" -ge $((SERVICES * DESTS)) ]; }

start() { # haldir|keepalived
    if [ "$1" = haldir ]; then
        spawn_at lb2 /tmp/b.pid haldir run -c /lab/lb2.toml 2>/tmp/backup.log
        spawn_at lb1 /tmp/m.pid haldir run -c /lab/lb1.toml 2>/tmp/master.log
    else
        spawn_at lb2 /tmp/b.pid keepalived -n -l -D -f /lab/k2.conf -p /tmp/k2.pid -r /tmp/k2v.pid -c /tmp/k2c.pid >/tmp/backup.log 2>&1
        spawn_at lb1 /tmp/m.pid keepalived -n -l -D -f /lab/k1.conf -p /tmp/k1.pid -r /tmp/k1v.pid -c /tmp/k1c.pid >/tmp/master.log 2>&1
    fi
}
stop() {
    kill -TERM "$(cat /tmp/m.pid)" "$(cat /tmp/b.pid)" 2>/dev/null
    sleep 2
    kill -9 "$(cat /tmp/m.pid)" "$(cat /tmp/b.pid)" 2>/dev/null
    at lb1 ipvsadm -C; ip -n lb1 addr del 10.0.0.100/32 dev eth0 2>/dev/null
    ip -n lb2 addr del 10.0.0.100/32 dev eth0 2>/dev/null
    rm -f /tmp/k*.pid
    true
}
takeovers() { grep -c 'to="MASTER"\|Entering MASTER STATE' /tmp/backup.log; }

measure() { # LABEL haldir|keepalived STATUS(yes|no)
    local label=$1 kind=$2 status=$3
    [ "$kind" = haldir ] && haldir_files 1 || keepalived_files 1
    start "$kind"
    wait_until has_vip || { tail /tmp/master.log; fail "$label: lb1 is master"; }
    local t
    t=$(until_ms 600000 programmed) || { tail /tmp/master.log; fail "$label: the table is programmed"; }
    sleep 2
    local before; before=$(takeovers)
    at obs /lab/advert_gaps 10.0.0.11 "$WINDOW" 10.0.0.10 > /tmp/gaps &
    local observer=$! end=$(( $(now_ms) + WINDOW * 1000 )) n=0 w
    while [ "$(now_ms)" -lt "$end" ]; do
        at lb1 ipvsadm -Ln > /dev/null
        [ "$status" = yes ] && at lb1 haldir -c /lab/lb1.toml status > /dev/null 2>&1
        n=$((n + 1))
        if [ $((n % 15)) = 0 ] && [ $n -le 45 ]; then
            w=$((n / 15 + 1))
            if [ "$kind" = haldir ]; then
                haldir_files $w; at lb1 haldir -c /lab/lb1.toml reload > /dev/null 2>&1
            else
                keepalived_files $w; kill -HUP "$(cat /tmp/k1.pid)"
            fi
        fi
    done
    wait "$observer"
    read -r count gap < /tmp/gaps
    echo "$label $gap $(( $(takeovers) - before )) $count $t" >> /tmp/results
    ok "$label: longest gap ${gap} ms, $count adverts"
    stop
}

rm -f /tmp/results
say "VRRP under load: $SERVICES services x $DESTS real servers, VRRPv3 at 100 ms, ${WINDOW} s each"
measure haldir haldir no
measure haldir+status haldir yes
measure keepalived keepalived no
echo
k_gap=$(awk '$1 == "keepalived" {print $2}' /tmp/results)
printf '%-16s %18s %8s %16s %10s %16s\n' "" "longest gap (ms)" "ratio" "false takeovers" "adverts" "table load (ms)"
while read -r label gap falls count t; do
    ratio=$(awk -v a="$gap" -v b="$k_gap" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    printf '%-16s %18s %8s %16s %10s %16s\n' "$label" "$gap" "$ratio" "$falls" "$count" "$t"
done < /tmp/results
