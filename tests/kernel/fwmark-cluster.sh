# The seed topology: two directors that are also real servers for the same VIP, plus a third
# real server. Each director runs haldir with VRRP, a fwmark service over all three servers,
# mark rules excluding the peer director's MAC, and the DR real-server role. Client requests
# are balanced over all three, each answered exactly once, with no loop between the directors;
# when the master dies the other serves everything; its return restores the split.
# BACKEND (nftables or iptables) is set by the caller's copy of this file.
BACKEND=${BACKEND:-nftables}

bridge br0
for ns in client lb1 lb2 rs3; do netns $ns; done
attach client br0 eth0 10.0.0.10/24
attach lb1 br0 eth0 10.0.0.11/24
attach lb2 br0 eth0 10.0.0.12/24
attach rs3 br0 eth0 10.0.0.13/24
for ns in lb1 lb2 rs3; do serve $ns 80 $ns; done
realserver_dr rs3 10.0.0.100

director() { # NAME PRIORITY PEER
    cat > /lab/$1.toml <<TOML
[global]
router_id = "$1"
state_dir = "/run/haldir-$1"
script_user = "root"
reconcile_interval = "2s"
[netfilter]
backend = "$BACKEND"
$(vrrp_instance priority=$2)
[[fwmark]]
mark = 3
destination = "10.0.0.100"
protocol = "tcp"
ports = [80]
interface = "eth0"
exclude_peers = ["$3"]
[[virtual_server]]
fwmark = 3
scheduler = "rr"
forwarding = "dr"
# fall = 2 and a 1 s timeout: one slow probe in a busy VM must not move a server out, for the
# split asserted below is exact.
check = { type = "tcp", port = 80, interval = "1s", timeout = "1s", fall = 2, rise = 1 }
[[virtual_server.real_server]]
address = "10.0.0.11"
[[virtual_server.real_server]]
address = "10.0.0.12"
[[virtual_server.real_server]]
address = "10.0.0.13"
[realserver]
vips = ["10.0.0.100/32"]
mode = "dr"
TOML
}
director lb1 150 10.0.0.12
director lb2 100 10.0.0.11
start() { start_haldir "$1"; }
master_vip() { ip -n "$1" -o addr show dev eth0 | grep -q ' 10.0.0.100/32 '; }
marks_ready() { # both directors' rules exclude the peer's learned MAC
    case $BACKEND in
        nftables) at "$1" nft list table inet haldir 2>/dev/null | grep -q 'ether saddr !=' ;;
        iptables) at "$1" iptables-save -t mangle 2>/dev/null | grep -q -- '--mac-source' ;;
    esac
}

# On a split that does not match: which director's IPVS took the requests, and where the
# client sends them.
tally_diag() { ipvs_split 10.0.0.10 10.0.0.100 lb1 lb2; }

say "two directors that are also real servers ($BACKEND)"
start lb1; start lb2
wait_until master_vip lb1 || { logs; fail "lb1 is master"; }
wait_until marks_ready lb1 && wait_until marks_ready lb2 || { logs; fail "the mark rules exclude the peer"; }
ok "lb1 is master; both directors mark all but the peer's packets"
wait_until live_dests lb1 3 || { logs; fail "the first checks find the three servers up"; }

check_tally "30 requests are balanced over the three servers, each answered once" "10 lb1
10 lb2
10 rs3" client http://10.0.0.100/ 30
# IPVS folds its counters every 2 s, and shows no sign of having done it: a director that
# took none must be read after a fold.
sleep 2.5
check_eq "lb1's IPVS took every connection" 30 "$(at lb1 ipvsadm -Ln --stats | awk '/^FWM/ {print $3}')"
check_eq "lb2's IPVS took none: the packets lb1 forwarded were not marked, no loop" 0 \
    "$(at lb2 ipvsadm -Ln --stats | awk '/^FWM/ {print $3}')"

say "the master dies"
kill -9 "$(cat /tmp/lb1.pid)"
ip -n lb1 link set eth0 down      # the whole host is gone
wait_until master_vip lb2 || { logs; fail "lb2 takes over"; }
wait_until live_dests lb2 2 || { logs; fail "lb2's check takes lb1 out"; }
check_tally "lb2 serves everything, over the servers that are left" "10 lb2
10 rs3" client http://10.0.0.100/ 20

say "lb1 returns"
ip -n lb1 link set eth0 up
ip -n lb1 addr del 10.0.0.100/32 dev eth0 2>/dev/null
start lb1
wait_until master_vip lb1 || { logs; fail "lb1 takes the VIP back"; }
wait_until marks_ready lb1 || { logs; fail "lb1's rules are back"; }
wait_until live_dests lb1 3 && wait_until live_dests lb2 3 || { logs; fail "both directors see the three servers up"; }
check_tally "the split is restored" "10 lb1
10 lb2
10 rs3" client http://10.0.0.100/ 30
# IPVS folds its counters every 2 s, and shows no sign of having done it: a director that
# took none must be read after a fold.
sleep 2.5
check_eq "lb2's IPVS took none of them (its 20 are from its time as master): no loop after the return" 20 \
    "$(at lb2 ipvsadm -Ln --stats | awk '/^FWM/ {print $3}')"
stop_daemon lb1 lb2
