# A director pair in front of three "Kubernetes nodes" that serve a Service's external IP in DR
# mode, the nodes set up by haldir's real-server role. The service is bound to the VRRP
# instance: only the master programs it. A failed node leaves; a director failover keeps the
# service answering.

bridge br0
for ns in client lb1 lb2 node1 node2 node3; do netns $ns; done
attach client br0 eth0 10.0.0.10/24
attach lb1 br0 eth0 10.0.0.11/24
attach lb2 br0 eth0 10.0.0.12/24
for i in 1 2 3; do attach node$i br0 eth0 10.0.0.2$i/24; serve node$i 80 node$i; done

# One host each: its own state directory (and so its own control socket).
for i in 1 2 3; do
    cat > /lab/node$i.toml <<TOML
[global]
state_dir = "/run/haldir-node$i"
[realserver]
vips = ["10.0.0.100/32"]
mode = "dr"
TOML
    spawn_at node$i /tmp/node$i.pid haldir run -c /lab/node$i.toml 2>>/tmp/node$i.log
done

director() { # NAME PRIORITY
    cat > /lab/$1.toml <<TOML
[global]
state_dir = "/run/haldir-$1"
script_user = "root"
$(vrrp_instance priority=$2 vrid=80)
[[virtual_server]]
name = "ingress"
address = "10.0.0.100:80"
scheduler = "rr"
forwarding = "dr"
vrrp_instance = "VI_1"
# fall = 2 and a 1 s timeout: one slow probe in a busy VM must not move a node out, for the
# splits asserted below are exact.
check = { type = "http", path = "/", interval = "1s", timeout = "1s", fall = 2, rise = 1 }
[[virtual_server.real_server]]
address = "10.0.0.21:80"
[[virtual_server.real_server]]
address = "10.0.0.22:80"
[[virtual_server.real_server]]
address = "10.0.0.23:80"
TOML
}
director lb1 150; director lb2 100
spawn_at lb1 /tmp/lb1.pid haldir run -c /lab/lb1.toml 2>>/tmp/lb1.log
spawn_at lb2 /tmp/lb2.pid haldir run -c /lab/lb2.toml 2>>/tmp/lb2.log
programmed() { at "$1" ipvsadm -Ln | grep -q '^TCP  10.0.0.100:80'; }
logs() { for n in lb1 lb2 node1; do echo "== $n"; tail -15 /tmp/$n.log; done; }

# On a split that does not match: which director's IPVS took the requests, and where the
# client sends them.
tally_diag() { ipvs_split 10.0.0.10 10.0.0.100 lb1 lb2; }

say "the master programs the service, the backup does not"
wait_until programmed lb1 || { logs; fail "lb1 programs the service"; }
ok "lb1 (master) programs TCP 10.0.0.100:80"
unprogrammed() { ! programmed "$1"; }
check_holds "lb2 (backup) holds no service" 1 unprogrammed lb2
check_eq "the nodes carry the VIP on lo" "3" "$(for i in 1 2 3; do ip -n node$i -o addr show dev lo | grep -c ' 10.0.0.100/32 '; done | awk '{s += $1} END {print s}')"
check_tally "requests reach all three nodes" "10 node1
10 node2
10 node3" client http://10.0.0.100/ 30

say "a node fails"
unserve node3 80
node3_gone() { ! at lb1 ipvsadm -Ln | grep -q '10.0.0.23:80'; }
wait_until node3_gone || { logs; fail "node3 leaves lb1's table"; }
check_tally "it left; the others share the load" "15 node1
15 node2" client http://10.0.0.100/ 30

say "the master director dies"
kill -9 "$(cat /tmp/lb1.pid)"
ip -n lb1 link set eth0 down
wait_until programmed lb2 || { logs; fail "lb2 programs the service as the new master"; }
ok "lb2 became master and programmed the service"
wait_for 10 live_dests lb2 2 || { logs; fail "lb2's checks find node1 and node2 up, node3 down"; }
wait_for 5 client_sees lb2 || fail "lb2's gratuitous ARP reached the client"
check_tally "the service keeps answering from the live nodes" "15 node1
15 node2" client http://10.0.0.100/ 30
stop_daemon lb2 node1 node2 node3
