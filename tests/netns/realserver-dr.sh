# The real-server role in DR mode, as on a Kubernetes node serving a Service's external IP:
# the VIP on lo, no ARP answered for it, packets for it accepted; everything undone on stop.

bridge br0
for ns in node client; do netns $ns; done
attach node br0 eth0 10.0.0.21/24
attach client br0 eth0 10.0.0.10/24
serve node 80 node

cat > "$LAB/node.toml" <<TOML
[global]
state_dir = "$LAB/state"
[realserver]
vips = ["10.0.0.100/32"]
mode = "dr"
TOML

sysctl_at() { at node cat "/proc/sys/net/ipv4/conf/all/$1"; }
on_lo() { ip -n node -o addr show dev lo | grep -q ' 10.0.0.100/32 '; }
before="$(sysctl_at arp_ignore) $(sysctl_at arp_announce)"

start_haldir node
LOGS=node
check_within "the VIP is on lo" 5 on_lo
check_eq "arp_ignore=1, arp_announce=2" "1 2" "$(sysctl_at arp_ignore) $(sysctl_at arp_announce)"

at client busybox ping -c1 -W1 10.0.0.100 >/dev/null 2>&1 && fail "the node answered ARP for the VIP" \
    || ok "the node does not answer ARP for the VIP"
# As a director in DR mode would: the VIP's packets sent to the node's MAC.
mac=$(ip -n node -o link show eth0 | sed 's/.*link\/ether \([0-9a-f:]*\).*/\1/')
ip -n client neigh replace 10.0.0.100 lladdr "$mac" dev eth0
check_eq "packets for the VIP sent to the node's MAC are accepted and answered" node \
    "$(at client curl -s --max-time 2 http://10.0.0.100/)"

kill -TERM "$(cat "$LAB/node.pid")"
wait "$(cat "$LAB/node.pid")"
on_lo && fail "the VIP is removed on stop" || ok "the VIP is removed on stop"
check_eq "the sysctls are back as they were" "$before" "$(sysctl_at arp_ignore) $(sysctl_at arp_announce)"
unserve node 80
