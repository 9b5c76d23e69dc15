# LVS-TUN (ipip) with the real servers on another subnet behind a router, their side set up by
# haldir's real-server role in TUN mode (tunl0 up with the VIP, rp_filter relaxed) and undone
# on stop.

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
    # One host each: its own state directory (and so its own control socket).
    cat > /lab/node$i.toml <<TOML
[global]
state_dir = "/run/haldir-node$i"
[realserver]
vips = ["10.0.0.100/32"]
mode = "tun"
TOML
    attach rs$i brB eth0 10.0.2.1$i/24
    at rs$i ip route add default via 10.0.2.254
    serve rs$i 80 rs$i
    at rs$i sysctl -qw net.ipv4.conf.all.rp_filter=1   # strict, so the role's change is visible
    spawn_at rs$i /tmp/rs$i.pid haldir run -c /lab/node$i.toml 2>>/tmp/rs$i.log
done
cp "$fixtures/tun-role-director.toml" /lab/dir.toml
on_tunl0() { ip -n "$1" -o addr show dev tunl0 2>/dev/null | grep -q ' 10.0.0.100/32 '; }
wait_until on_tunl0 rs1 && wait_until on_tunl0 rs2 || { cat /tmp/rs1.log; fail "the role puts the VIP on tunl0"; }
ok "the real-server role put the VIP on tunl0 on both servers"
check_eq "rp_filter relaxed (all, tunl0)" "0 0" "$(at rs1 cat /proc/sys/net/ipv4/conf/all/rp_filter) $(at rs1 cat /proc/sys/net/ipv4/conf/tunl0/rp_filter)"
check_status "haldir apply in the director" 0 at dir haldir apply -c /lab/dir.toml
check_tally "rr spreads 10 requests 5/5 through the tunnel to the other subnet" "5 rs1
5 rs2" client http://10.0.0.100/ 10
kill -TERM "$(cat /tmp/rs1.pid)"
wait "$(cat /tmp/rs1.pid)" 2>/dev/null
on_tunl0 rs1 && fail "the role is undone on stop" || ok "the role is undone on stop"
check_eq "rp_filter back to its earlier value" 1 "$(at rs1 cat /proc/sys/net/ipv4/conf/all/rp_filter)"
kill -TERM "$(cat /tmp/rs2.pid)"
wait_for 5 dead "$(cat /tmp/rs2.pid)" || fail "rs2's haldir stops"
