# The mark rules with both backends: haldir's table (nftables) or chain (iptables) holds exactly
# the configured rules, peers' MACs learned from the neighbour table; nothing else in the
# ruleset changes; a stop leaves nothing of haldir's behind.

# A peer director whose MAC haldir must learn.
netns peer
ip link add veth-peer type veth peer name eth0 netns peer
ip link set veth-peer up
ip addr add 10.0.0.11/24 dev veth-peer
ip -n peer link set eth0 up
ip -n peer addr add 10.0.0.12/24 dev eth0
peer_mac=$(ip -n peer -o link show eth0 | sed 's/.*link\/ether \([0-9a-f:]*\).*/\1/')
# haldir keeps the excluded MACs sorted.
macs_sorted=$(printf '%s\n' 08:00:27:48:90:6c "$peer_mac" | sort)
mac1=$(echo "$macs_sorted" | sed -n 1p)
mac2=$(echo "$macs_sorted" | sed -n 2p)

# Rules of other tools, which must survive everything haldir does.
nft add table inet other
nft add chain inet other pre '{ type filter hook prerouting priority 0; }'
nft add rule inet other pre ip daddr 192.0.2.1 counter
iptables-legacy -t mangle -A PREROUTING -d 192.0.2.2 -j ACCEPT 2>/dev/null || true

backend_config() { # BACKEND
    cat > /lab/haldir.toml <<TOML
[global]
state_dir = "/run/haldir-$1"
reconcile_interval = "1s"
[netfilter]
backend = "$1"
table = "haldir"
[[fwmark]]
mark = 3
destination = "10.0.0.100"
protocol = "tcp"
ports = [80, 443]
interface = "veth-peer"
exclude_source_mac = ["08:00:27:48:90:6c"]
exclude_peers = ["10.0.0.12"]
[[fwmark]]
mark = 4
destination = "2001:db8::100/128"
protocol = "udp"
ports = ["5000-5010"]
[[virtual_server]]
fwmark = 3
scheduler = "rr"
forwarding = "dr"
[[virtual_server.real_server]]
address = "10.0.0.12"
[[virtual_server]]
fwmark = 4
family = "ipv6"
scheduler = "rr"
forwarding = "dr"
TOML
}

say "nftables"
nft list ruleset > /tmp/before
backend_config nftables
check_status "haldir apply" 0 haldir apply -c /lab/haldir.toml
rules=$(nft list table inet haldir | grep 'meta mark set' | sed 's/^[[:space:]]*//')
check_eq "haldir's table holds the two rules, the peer's MAC learned" \
"iifname \"veth-peer\" ip daddr 10.0.0.100 tcp dport { 80, 443 } ether saddr != { $mac1, $mac2 } meta mark set 0x00000003
ip6 daddr 2001:db8::100 udp dport 5000-5010 meta mark set 0x00000004" "$rules"
nft list ruleset | awk '/^table inet haldir/ {skip=1} skip && /^}/ {skip=0; next} !skip' > /tmp/after
check_eq "nothing else in the ruleset changed" "$(cat /tmp/before)" "$(cat /tmp/after)"
check_status "a second apply succeeds (the table is replaced, not doubled)" 0 haldir apply -c /lab/haldir.toml
check_eq "still two rules" 2 "$(nft list table inet haldir | grep -c 'meta mark set')"
haldir ipvs list | grep -q "^FWM  3 rr" && ok "the fwmark service is programmed" || fail "the fwmark service is programmed"

say "haldir run loads the rules and removes them on stop"
nft delete table inet haldir
haldir run -c /lab/haldir.toml 2>/tmp/run.log &
pid=$!
wait_for 5 nft list table inet haldir
check_eq "loaded by the daemon" 2 "$(nft list table inet haldir 2>/dev/null | grep -c 'meta mark set')"
kill -TERM $pid; wait $pid
nft list table inet haldir >/dev/null 2>&1 && fail "the table is gone after a stop" || ok "the table is gone after a stop"
check_eq "the ruleset is as before" "$(cat /tmp/before)" "$(nft list ruleset)"

say "iptables"
iptables-save -t mangle | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//' > /tmp/ipt-before
backend_config iptables
check_status "haldir apply" 0 haldir apply -c /lab/haldir.toml
chain=$(iptables-save -t mangle | grep -- '-A haldir' | sed 's/--dports/--dports/')
check_eq "haldir's chain holds the rule with both exclusions" \
"-A haldir -d 10.0.0.100/32 -i veth-peer -p tcp -m multiport --dports 80,443 -m mac --mac-source $mac1 -j RETURN
-A haldir -d 10.0.0.100/32 -i veth-peer -p tcp -m multiport --dports 80,443 -m mac --mac-source $mac2 -j RETURN
-A haldir -d 10.0.0.100/32 -i veth-peer -p tcp -m multiport --dports 80,443 -j MARK --set-xmark 0x3/0xffffffff" "$chain"
check_eq "PREROUTING jumps to it once" 1 "$(iptables-save -t mangle | grep -c -- '-A PREROUTING -j haldir')"
check_eq "ip6tables has the IPv6 rule" 1 "$(ip6tables-save -t mangle | grep -c -- '-A haldir .*--set-xmark 0x4')"
check_status "a second apply" 0 haldir apply -c /lab/haldir.toml
check_eq "still one jump and three rules" "1 3" "$(iptables-save -t mangle | grep -c -- '-A PREROUTING -j haldir') $(iptables-save -t mangle | grep -c -- '-A haldir')"
starts=$(grep -c 'haldir started' /tmp/run.log)
haldir run -c /lab/haldir.toml 2>>/tmp/run.log &
pid=$!
# The chain is there from the apply before: what shows this daemon up is its own log line.
started() { [ "$(grep -c 'haldir started' /tmp/run.log)" -gt "$starts" ]; }
check_within "the daemon has started" 5 started
kill -TERM $pid; wait $pid
check_eq "after a stop, mangle is as before" "$(cat /tmp/ipt-before)" "$(iptables-save -t mangle | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//')"
