# The soak itself (scripts/soak/timers), inside a private network namespace.
bridge br0
for ns in h1 h2 k1 k2; do netns $ns; done
attach h1 br0 eth0 10.0.0.1/24
attach h2 br0 eth0 10.0.0.2/24
attach k1 br0 eth0 10.0.0.3/24
attach k2 br0 eth0 10.0.0.4/24
for n in 1 2; do
    prio=$((250 - n * 50))
    cat > "$LAB/h$n.toml" <<TOML
[global]
state_dir = "$LAB/state-h$n"
metrics_listen = "127.0.0.1:9474"
[[vrrp_instance]]
name = "VI_H"
interface = "eth0"
virtual_router_id = 61
priority = $prio
version = 2
advert_interval = "1s"
virtual_ipaddress = ["10.0.0.100/32"]
TOML
    cat > "$LAB/k$n.conf" <<CONF
global_defs {
  router_id k$n
}
vrrp_instance VI_K {
  state BACKUP
  interface eth0
  virtual_router_id 62
  priority $prio
  advert_int 1
  virtual_ipaddress {
    10.0.0.200/32 dev eth0
  }
}
CONF
    spawn_at h$n "$LAB/h$n.pid" haldir run -c "$LAB/h$n.toml" 2>>"$LAB/h$n.log"
    spawn_at k$n "$LAB/k$n.pid" keepalived -n -l -D -P -f "$LAB/k$n.conf" -p "$LAB/k$n.main" \
        -r "$LAB/k$n.vrrp" >>"$LAB/k$n.log" 2>&1
done
holds() { ip -n "$1" -o addr show dev eth0 | grep -q " $2/32 "; }
wait_until holds h1 10.0.0.100 || { cat "$LAB/h1.log"; fail "h1 master"; }
wait_until holds k1 10.0.0.200 || { cat "$LAB/k1.log"; fail "k1 master"; }
sleep 5
ok "both pairs settled: h1 and k1 masters"
flips_h() { at h2 curl -s 127.0.0.1:9474/metrics | awk '$1 ~ /^haldir_vrrp_transitions_total.*to="MASTER"/ {s += $2} END {print s + 0}'; }
flips_k() { grep -c 'Entering MASTER STATE' "$LAB/k2.log"; }
h0=$(flips_h); k0=$(flips_k)

cores=$(nproc)
hogs=""
i=0
while [ $i -lt $((cores * 2)) ]; do
    sh -c 'while :; do :; done' &
    hogs="$hogs $!"
    i=$((i + 1))
done
say "$((cores * 2)) busy loops on $cores cores for $SOAK_SECONDS s"
end=$(($(now_ms) + SOAK_SECONDS * 1000))
both_h=0; both_k=0
while [ "$(now_ms)" -lt "$end" ]; do
    # Both routers of a pair holding the VIP at once is a false failover caught in the act.
    holds h2 10.0.0.100 && both_h=$((both_h + 1))
    holds k2 10.0.0.200 && both_k=$((both_k + 1))
    sleep 1
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
for p in $hogs; do kill "$p"; done
h=$(( $(flips_h) - h0 )); k=$(( $(flips_k) - k0 ))
echo "load average at the end: $load"
echo "false failovers in $SOAK_SECONDS s with 1 s adverts: haldir $h (backup seen holding the VIP in $both_h samples), keepalived $k (in $both_k samples)"
[ "$h" = 0 ] && ok "haldir: no false failover" || fail "haldir made $h false failovers"
