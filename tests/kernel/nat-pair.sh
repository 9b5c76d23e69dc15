# LVS-NAT with a director pair: a sync group moves the VIP and the real servers' gateway
# address together, so the real servers' replies always flow back through the master; the IPVS
# connection sync daemon follows the VRRP role (master on the master, backup on the backup).

bridge brA; bridge brB
for ns in client lb1 lb2 rs1 rs2; do netns $ns; done
attach client brA eth0 10.0.0.10/24
for n in 1 2; do
    attach lb$n brA eth0 10.0.0.1$n/24
    attach lb$n brB eth1 10.1.0.1$n/24
    at lb$n sysctl -qw net.ipv4.ip_forward=1
    attach rs$n brB eth0 10.1.0.2$n/24
    at rs$n ip route add default via 10.1.0.1
    serve rs$n 8080 rs$n
done

director() { # NAME PRIORITY
    cat > /lab/$1.toml <<TOML
[global]
state_dir = "/run/haldir-$1"
script_user = "root"
$(vrrp_instance priority=$2 name=VI_PUBLIC vrid=60)
$(vrrp_instance priority=$2 name=VI_GATEWAY vrid=61 dev=eth1 vip=10.1.0.1/32)
[[vrrp_sync_group]]
name = "G_NAT"
instances = ["VI_PUBLIC", "VI_GATEWAY"]
[[virtual_server]]
address = "10.0.0.100:80"
scheduler = "rr"
forwarding = "nat"
[[virtual_server.real_server]]
address = "10.1.0.21:8080"
[[virtual_server.real_server]]
address = "10.1.0.22:8080"
[ipvs]
sync_daemon = { interface = "eth1", sync_id = 7, vrrp_instance = "VI_PUBLIC" }
TOML
}
director lb1 150; director lb2 100
spawn_at lb1 /tmp/lb1.pid haldir run -c /lab/lb1.toml 2>>/tmp/lb1.log
spawn_at lb2 /tmp/lb2.pid haldir run -c /lab/lb2.toml 2>>/tmp/lb2.log
holds_both() { ip -n "$1" -o addr | grep -q ' 10.0.0.100/32 ' && ip -n "$1" -o addr | grep -q ' 10.1.0.1/32 '; }
daemon_role() { at "$1" ipvsadm -L --daemon | awk '{print $1}'; }
daemon_is() { [ "$(daemon_role "$1")" = "$2" ]; }
logs() { for n in lb1 lb2; do echo "== $n"; head -40 /tmp/$n.log; done; }

say "lb1 holds the VIP and the gateway"
wait_until holds_both lb1 || { logs; fail "lb1 holds both addresses"; }
ok "lb1 holds both addresses"
wait_until daemon_is lb1 master || { logs; fail "lb1's sync daemon is master"; }
check_eq "the sync daemons follow the VRRP role: lb1 master" "master" "$(daemon_role lb1)"
check_within "lb2 backup" 5 daemon_is lb2 backup
check_tally "NAT through the master, replies back through its gateway address: 5/5" "5 rs1
5 rs2" client http://10.0.0.100/ 10

say "the master dies"
kill -9 "$(cat /tmp/lb1.pid)"
ip -n lb1 link set eth0 down
ip -n lb1 link set eth1 down
wait_until holds_both lb2 || { logs; fail "lb2 takes both addresses"; }
ok "lb2 took the VIP and the gateway together"
wait_until daemon_is lb2 master || { logs; fail "lb2's sync daemon becomes master"; }
ok "lb2's sync daemon switched to master"
check_tally "requests and replies now flow through lb2: 5/5" "5 rs1
5 rs2" client http://10.0.0.100/ 10
stop_daemon lb2
