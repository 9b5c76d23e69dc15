# Real traffic: a client reaches two real servers through a director programmed by haldir, in
# NAT, DR and TUN modes, and the requests are spread as the scheduler says.

reset() {
    for ns in $(ip netns list | awk '{print $1}'); do ip netns del "$ns"; done
    for br in brA brB; do ip link del "$br" 2>/dev/null; done
    for f in /tmp/httpd-*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
    true
}

director_config() { # FORWARDING SCHEDULER VIP RS1 RS2 W1 W2
    cat > /lab/$1.toml <<TOML
[global]
state_dir = "/run/haldir-$1"
[[virtual_server]]
address = "$3:80"
scheduler = "$2"
forwarding = "$1"
[[virtual_server.real_server]]
address = "$4"
weight = $6
[[virtual_server.real_server]]
address = "$5"
weight = $7
TOML
}

say "NAT: the director is the real servers' gateway and maps port 80 to 8080"
reset
bridge brA; bridge brB
for ns in client dir rs1 rs2; do netns $ns; done
attach client brA eth0 10.0.0.10/24
attach dir brA eth0 10.0.0.1/24
attach dir brB eth1 10.0.1.1/24
at dir sysctl -qw net.ipv4.ip_forward=1
for i in 1 2; do
    attach rs$i brB eth0 10.0.1.1$i/24
    at rs$i ip route add default via 10.0.1.1
    serve rs$i 8080 rs$i
done
director_config nat rr 10.0.0.1 10.0.1.11:8080 10.0.1.12:8080 1 1
check_status "haldir apply in the director" 0 at dir haldir apply -c /lab/nat.toml
check_tally "rr spreads 10 requests 5/5" "5 rs1
5 rs2" client http://10.0.0.1/ 10
check_eq "IPVS holds 10 connections, 5 a real server" "5 10.0.1.11:8080
5 10.0.1.12:8080" "$(at dir ipvsadm -Lnc | awk '/^TCP/ {print $6}' | sort | uniq -c | awk '{print $1, $2}')"
check_settles "the service counted 10 connections" 5 10 ipvs_total dir 3
check_eq "haldir ipvs list --stats agrees" 10 "$(at dir haldir ipvs list --stats | awk '/^TCP/ {print $3}')"

say "DR: one segment, the VIP on the director and on the real servers' lo"
reset
bridge brA
for ns in client dir rs1 rs2; do netns $ns; done
attach client brA eth0 10.0.0.10/24
attach dir brA eth0 10.0.0.1/24
at dir ip addr add 10.0.0.100/32 dev eth0
for i in 1 2; do
    attach rs$i brA eth0 10.0.0.1$i/24
    realserver_dr rs$i 10.0.0.100
    serve rs$i 80 rs$i
done
director_config dr wrr 10.0.0.100 10.0.0.11:80 10.0.0.12:80 3 1
check_status "haldir apply in the director" 0 at dir haldir apply -c /lab/dr.toml
check_tally "wrr with weights 3:1 spreads 8 requests 6/2" "6 rs1
2 rs2" client http://10.0.0.100/ 8

say "TUN (ipip): real servers on another subnet, behind a router"
reset
bridge brA; bridge brB
for ns in client dir router rs1 rs2; do netns $ns; done
attach client brA eth0 10.0.0.10/24
at client ip route add 10.0.2.0/24 via 10.0.0.254
attach dir brA eth0 10.0.0.1/24
at dir ip addr add 10.0.0.100/32 dev eth0
at dir ip route add 10.0.2.0/24 via 10.0.0.254
attach router brA eth0 10.0.0.254/24
attach router brB eth1 10.0.2.254/24
at router sysctl -qw net.ipv4.ip_forward=1
for i in 1 2; do
    attach rs$i brB eth0 10.0.2.1$i/24
    at rs$i ip route add default via 10.0.2.254
    at rs$i ip link set tunl0 up
    at rs$i ip addr add 10.0.0.100/32 dev tunl0
    for c in all default tunl0; do at rs$i sysctl -qw net.ipv4.conf.$c.rp_filter=0; done
    serve rs$i 80 rs$i
done
director_config tun rr 10.0.0.100 10.0.2.11:80 10.0.2.12:80 1 1
check_status "haldir apply in the director" 0 at dir haldir apply -c /lab/tun.toml
check_tally "rr spreads 10 requests 5/5 through the tunnel" "5 rs1
5 rs2" client http://10.0.0.100/ 10
conns_and_replies() { at dir ipvsadm -Ln --stats | awk '/^TCP/ {print $3, $5}'; }
check_settles "10 connections counted, and no reply packet: replies bypass the director" 5 "10 0" conns_and_replies
