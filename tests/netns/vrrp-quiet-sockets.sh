# Sockets that only send hold nothing. The kernel queues for a socket a copy of every packet it
# matches until its buffer is full, read or not: a gratuitous ARP socket of protocol ETH_P_ARP
# gets every ARP frame, a raw ICMPv6 socket for unsolicited NAs every neighbour solicitation
# and MLD report, an advert-sending socket bound to the unicast source every advert of the
# unicast peer. keepalived gives its sending and ARP sockets a filter that refuses everything
# (vrrp_if.c, if_setsockopt_no_receive, used in vrrp.c's open_vrrp_send_socket and
# vrrp_arp.c's gratuitous_arp_init). Two directors, an IPv4 unicast instance and an IPv6
# multicast one; a client sends ARP requests, pings and neighbour solicitations to both; then
# every raw and packet socket in either namespace must have an empty receive queue, save for
# a moment while the daemon reads its adverts.

bridge br0
for ns in lb1 lb2 client; do
    netns $ns
    no_dad $ns
done
attach lb1 br0 eth0 10.0.0.11/24
attach lb2 br0 eth0 10.0.0.12/24
attach client br0 eth0 10.0.0.10/24
ip -n lb1 addr add 2001:db8::11/64 dev eth0
ip -n lb2 addr add 2001:db8::12/64 dev eth0
ip -n client addr add 2001:db8::10/64 dev eth0
# The client takes an entry from a gratuitous ARP alone: it shows that lb1's ARP socket, which
# now receives nothing, still sends.
at client sysctl -qw net.ipv4.conf.eth0.arp_accept=1
wait_for 5 settled lb1 lb2 client || fail "the IPv6 addresses are usable"

director() { # NAME PRIORITY OWN_ADDRESS PEER_ADDRESS
    cat > "$LAB/$1.toml" <<TOML
[global]
state_dir = "$LAB/state-$1"
$(vrrp_instance priority=$2)
unicast_source = "$3"
unicast_peers = ["$4"]
$(vrrp_instance priority=$2 name=VI_6 vrid=61 vip=2001:db8::100/128)
TOML
}
director lb1 150 10.0.0.11 10.0.0.12
director lb2 100 10.0.0.12 10.0.0.11
start_haldir lb1
start_haldir lb2

elected() {
    has_vip lb1 && has_vip lb1 2001:db8::100/128 && lacks_vip lb2 && lacks_vip lb2 2001:db8::100/128
}
t=$(until_ms 3000 elected) || { logs; fail "lb1 is master of both instances"; }
ok "lb1 is master of both instances, lb2 backup (unicast adverts reach lb2's source address)"
t=$(until_ms 2000 client_sees lb1) || { ip -n client neigh; fail "the client learned the VIP at lb1 from its gratuitous ARP"; }
ok "the client learned the VIP at lb1 from its gratuitous ARP (the unsolicited NAs: vrrp-ipv6)"

# The traffic a busy segment carries: ARP requests, neighbour solicitations, echo requests.
for target in 10.0.0.11 10.0.0.12 10.0.0.100; do
    at client busybox arping -c 40 -w 2 -I eth0 "$target" >/dev/null 2>&1
done
for target in 2001:db8::11 2001:db8::12 2001:db8::100; do
    at client ip -6 neigh flush dev eth0
    at client busybox ping -6 -c 40 -i 0.01 -W 1 "$target" >/dev/null 2>&1
done

# unread NS: every raw or packet socket of the namespace with bytes in its receive queue
# (/proc/net/raw and raw6: the rx half of tx_queue:rx_queue; /proc/net/packet: Rmem).
unread() {
    at "$1" cat /proc/net/raw /proc/net/raw6 | awk 'NR > 1 && $5 ~ /:/ { split($5, q, ":"); if (q[2] !~ /^0+$/) print "raw", $0 }'
    at "$1" cat /proc/net/packet | awk 'NR > 1 && $7 != 0 { print "packet", $0 }'
}
quiet() { [ -z "$(unread "$1")" ]; }
for ns in lb1 lb2; do
    t=$(until_ms 3000 quiet $ns) || { unread $ns; fail "$ns: no socket holds what nobody reads"; }
    ok "$ns: no socket holds what nobody reads"
done
