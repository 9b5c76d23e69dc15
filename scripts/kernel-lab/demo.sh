# The lab (scripts/lab): two directors in front of three real servers, LVS-DR, one client.
# Runs in the kernel VM; prints a transcript with timings. Every claim it prints is checked.

T0=$(now_ms)
stamp() { local t=$(($(now_ms) - T0)); printf '[%3d.%02ds] ' $((t / 1000)) $((t % 1000 / 10)); }
step() { echo; stamp; echo "== $*"; }
note() { stamp; echo "$*"; }
show() { sed 's/^/            | /'; }

step "the topology: one L2 segment, namespaces joined by a bridge"
cat <<'EOF' | show
client 10.0.0.10 --+
lb1    10.0.0.1  --+   directors: haldir, VRRP for VIP 10.0.0.100,
lb2    10.0.0.2  --+   IPVS-DR service 10.0.0.100:80 (wrr), HTTP checks
rs1    10.0.0.11 --+
rs2    10.0.0.12 --+   real servers: the VIP on lo (no ARP), an HTTP server
rs3    10.0.0.13 --+   that answers with its name
EOF
bridge br0
for ns in client lb1 lb2 rs1 rs2 rs3; do netns $ns; done
attach client br0 eth0 10.0.0.10/24
attach lb1 br0 eth0 10.0.0.1/24
attach lb2 br0 eth0 10.0.0.2/24
for i in 1 2 3; do
    attach rs$i br0 eth0 10.0.0.1$i/24
    realserver_dr rs$i 10.0.0.100
    serve rs$i 80 rs$i
done

director() { # NAME PRIORITY
    cat > /lab/$1.toml <<TOML
[global]
router_id = "$1"
state_dir = "/run/haldir-$1"
script_user = "root"

$(vrrp_instance priority=$2 name=VI_WEB)

[[virtual_server]]
name = "web"
address = "10.0.0.100:80"
scheduler = "wrr"
forwarding = "dr"
[virtual_server.check]
type = "http"
path = "/"
interval = "1s"
timeout = "1s"
fall = 2
rise = 1
[[virtual_server.real_server]]
address = "10.0.0.11:80"
[[virtual_server.real_server]]
address = "10.0.0.12:80"
[[virtual_server.real_server]]
address = "10.0.0.13:80"
TOML
}
director lb1 150
director lb2 100
step "lb1's configuration (lb2's differs only in router_id and priority 100)"
show < /lab/lb1.toml

status() { haldir -c /lab/$1.toml status; }
LOG_LINES=30

step "haldir starts on both directors"
spawn_at lb1 /tmp/lb1.pid haldir run -c /lab/lb1.toml 2>>/tmp/lb1.log
spawn_at lb2 /tmp/lb2.pid haldir run -c /lab/lb2.toml 2>>/tmp/lb2.log
t=$(until_ms 10000 has_vip lb1) || { logs; fail "lb1 takes the VIP"; }
note "lb1 took the VIP after $t ms (VRRP v3, adverts every 100 ms)"
wait_until sh -c "haldir -c /lab/lb2.toml status | grep -q 'VI_WEB.*BACKUP'" || { logs; fail "lb2 is backup"; }
note "haldir status on lb1 and on lb2:"
status lb1 | show
status lb2 | show

step "the client sends 12 requests to the VIP"
tally client http://10.0.0.100/ 12 > /tmp/tally
show < /tmp/tally
check_eq "wrr with equal weights: 4 each" "4 rs1
4 rs2
4 rs3" "$(cat /tmp/tally)"
note "the kernel's table on lb1 (ipvsadm -Ln):"
at lb1 ipvsadm -Ln | show

step "rs3's web server stops: the HTTP check takes it out"
unserve rs3 80
in_table() { at lb1 ipvsadm -Ln | grep -q "$1"; }
not_in_table() { ! in_table "$1"; }
t=$(until_ms 6000 not_in_table 10.0.0.13:80) || { logs; fail "rs3 leaves"; }
note "rs3 left IPVS after $t ms (checks every 1 s, fall = 2)"
grep 'real server down' /tmp/lb1.log | tail -n1 | sed 's/.*WARN //' | show
tally client http://10.0.0.100/ 6 > /tmp/tally
show < /tmp/tally
check_eq "requests now go to rs1 and rs2 only" "3 rs1
3 rs2" "$(cat /tmp/tally)"
serve rs3 80 rs3
t=$(until_ms 6000 in_table 10.0.0.13:80) || { logs; fail "rs3 returns"; }
note "rs3's server is back: in IPVS again after $t ms"

step "drain rs1 for maintenance: weight 0, established connections finish"
haldir -c /lab/lb1.toml drain web 10.0.0.11 | show
at lb1 ipvsadm -Ln | grep 10.0.0.11 | show
haldir -c /lab/lb1.toml undrain web 10.0.0.11 | show

step "the master dies (haldir killed, lb1's link down) under a steady client load"
: > /tmp/load.log
load() {
    while [ ! -e /tmp/load.stop ]; do
        r=$(at client curl -s --max-time 1 http://10.0.0.100/) || r=FAIL
        echo "$(now_ms) ${r:-FAIL}"
    done >> /tmp/load.log
}
load &
loader=$!
sleep 2
killed_at=$(now_ms)
kill -9 "$(cat /tmp/lb1.pid)"
ip -n lb1 link set eth0 down
t=$(until_ms 10000 has_vip lb2) || { logs; fail "lb2 takes over"; }
note "lb2 holds the VIP $t ms after the kill (master down: 3 adverts + skew = 360 ms after the last advert)"
sleep 2
touch /tmp/load.stop
wait $loader
rm -f /tmp/load.stop
answered=$(grep -vc FAIL /tmp/load.log)
failed=$(grep -c FAIL /tmp/load.log)
gap=$(awk -v k="$killed_at" '$2 != "FAIL" && $1 < k {last = $1} $2 != "FAIL" && $1 >= k && !after {after = $1} END {print after - last}' /tmp/load.log)
note "client load: $answered answered, $failed failed; longest silence around the kill: $gap ms"
note "haldir status on lb2:"
status lb2 | show
tally client http://10.0.0.100/ 6 > /tmp/tally
show < /tmp/tally
check_eq "lb2 directs the traffic: 2 each" "2 rs1
2 rs2
2 rs3" "$(cat /tmp/tally)"

step "lb1 comes back and, with the higher priority, takes the VIP again"
ip -n lb1 link set eth0 up
spawn_at lb1 /tmp/lb1.pid haldir run -c /lab/lb1.toml 2>>/tmp/lb1.log
t=$(until_ms 10000 has_vip lb1) || { logs; fail "lb1 preempts"; }
note "lb1 master again after $t ms; lb2 released the VIP:"
wait_until sh -c "! /usr/sbin/ip -n lb2 -o addr show eth0 | grep -q ' 10.0.0.100/32 '" || fail "lb2 releases the VIP"
status lb2 | grep VI_WEB | show
check_tally "and traffic flows through lb1: 2 each" "2 rs1
2 rs2
2 rs3" client http://10.0.0.100/ 6

step "done: haldir directed real traffic, followed health, drained, and failed over"
