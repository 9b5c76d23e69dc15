# Every scheduler, flag, forwarding method and tunnel type, IPv4 and IPv6, fwmark and address
# services, persistence, thresholds, the sync daemon and the timeouts: `haldir apply` programs
# them and ipvsadm, the independent witness, must show exactly what the config says.

ip link add sync0 type dummy; ip link set sync0 up; ip addr add 10.9.0.1/24 dev sync0
cat > /lab/haldir.toml <<'TOML'
[global]
state_dir = "/run/haldir"

[ipvs]
timeouts = { tcp = "900s", tcp_fin = "120s", udp = "300s" }
sync_daemon = { interface = "sync0", sync_id = 51 }
sloppy_tcp = true
TOML
port=1000
for s in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh; do
    port=$((port + 1))
    cat >> /lab/haldir.toml <<TOML
[[virtual_server]]
address = "10.0.0.1:$port"
scheduler = "$s"
forwarding = "dr"
[[virtual_server.real_server]]
address = "10.0.1.1"
weight = 2
TOML
done
cat >> /lab/haldir.toml <<'TOML'
[[virtual_server]]
address = "10.0.0.2:53"
protocol = "udp"
scheduler = "sh"
scheduler_flags = ["sh-port", "sh-fallback"]
forwarding = "nat"
persistence_timeout = "120s"
persistence_netmask = "255.255.255.0"
one_packet = true
[[virtual_server.real_server]]
address = "10.0.1.2:5353"
weight = 7
upper_threshold = 100
lower_threshold = 50

[[virtual_server]]
address = "10.0.0.2:80"
protocol = "sctp"
scheduler = "mh"
scheduler_flags = ["mh-port", "mh-fallback"]
forwarding = "tun"
tunnel = { type = "gue", port = 6080, checksum = "remcsum" }
[[virtual_server.real_server]]
address = "10.0.1.3:80"
[[virtual_server.real_server]]
address = "10.0.1.4:80"
tunnel = { type = "gre", checksum = "csum" }
[[virtual_server.real_server]]
address = "10.0.1.5:80"
tunnel = { type = "ipip" }

[[virtual_server]]
fwmark = 3
scheduler = "wlc"
forwarding = "dr"
persistence_timeout = "60s"
[[virtual_server.real_server]]
address = "10.0.1.6"
[[virtual_server.real_server]]
address = "10.0.1.7"
forwarding = "nat"

[[virtual_server]]
fwmark = 4
family = "ipv6"
scheduler = "rr"
forwarding = "dr"
[[virtual_server.real_server]]
address = "2001:db8::6"

[[virtual_server]]
address = "[2001:db8::1]:443"
scheduler = "sh"
forwarding = "dr"
persistence_timeout = "300s"
persistence_netmask = 64
[[virtual_server.real_server]]
address = "[2001:db8::7]:443"
weight = 0
TOML

say "apply"
check_run "haldir check" haldir check -c /lab/haldir.toml
check_status "haldir apply succeeds" 0 haldir apply -c /lab/haldir.toml

expected=$(sort <<'SAVE'
-A -t 10.0.0.1:1001 -s rr
-a -t 10.0.0.1:1001 -r 10.0.1.1:1001 -g -w 2
-A -t 10.0.0.1:1002 -s wrr
-a -t 10.0.0.1:1002 -r 10.0.1.1:1002 -g -w 2
-A -t 10.0.0.1:1003 -s lc
-a -t 10.0.0.1:1003 -r 10.0.1.1:1003 -g -w 2
-A -t 10.0.0.1:1004 -s wlc
-a -t 10.0.0.1:1004 -r 10.0.1.1:1004 -g -w 2
-A -t 10.0.0.1:1005 -s lblc
-a -t 10.0.0.1:1005 -r 10.0.1.1:1005 -g -w 2
-A -t 10.0.0.1:1006 -s lblcr
-a -t 10.0.0.1:1006 -r 10.0.1.1:1006 -g -w 2
-A -t 10.0.0.1:1007 -s dh
-a -t 10.0.0.1:1007 -r 10.0.1.1:1007 -g -w 2
-A -t 10.0.0.1:1008 -s sh
-a -t 10.0.0.1:1008 -r 10.0.1.1:1008 -g -w 2
-A -t 10.0.0.1:1009 -s sed
-a -t 10.0.0.1:1009 -r 10.0.1.1:1009 -g -w 2
-A -t 10.0.0.1:1010 -s nq
-a -t 10.0.0.1:1010 -r 10.0.1.1:1010 -g -w 2
-A -t 10.0.0.1:1011 -s fo
-a -t 10.0.0.1:1011 -r 10.0.1.1:1011 -g -w 2
-A -t 10.0.0.1:1012 -s ovf
-a -t 10.0.0.1:1012 -r 10.0.1.1:1012 -g -w 2
-A -t 10.0.0.1:1013 -s mh
-a -t 10.0.0.1:1013 -r 10.0.1.1:1013 -g -w 2
-A -u 10.0.0.2:53 -s sh -p 120 -M 255.255.255.0 -o -b sh-fallback,sh-port
-a -u 10.0.0.2:53 -r 10.0.1.2:5353 -m -w 7
-A --sctp-service 10.0.0.2:80 -s mh -b mh-fallback,mh-port
-a --sctp-service 10.0.0.2:80 -r 10.0.1.3:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
-a --sctp-service 10.0.0.2:80 -r 10.0.1.4:80 -i -w 1 --tun-type gre --tun-csum
-a --sctp-service 10.0.0.2:80 -r 10.0.1.5:80 -i -w 1 --tun-type ipip
-A -f 3 -s wlc -p 60
-a -f 3 -r 10.0.1.6:0 -g -w 1
-a -f 3 -r 10.0.1.7:0 -m -w 1
-A -f 4 -6 -s rr
-a -f 4 -6 -r [2001:db8::6]:0 -g -w 1
-A -t [2001:db8::1]:443 -s sh -p 300 -M 64
-a -t [2001:db8::1]:443 -r [2001:db8::7]:443 -g -w 0
SAVE
)
check_eq "ipvsadm-save shows the configuration" "$expected" "$(ipvs_saved)"

# "-> address uthreshold lthreshold activeconn inactconn"
thresholds=$(ipvsadm -Ln --thresholds -u 10.0.0.2:53 | awk '/10.0.1.2/ {print $2, $3, $4}')
check_eq "thresholds" "10.0.1.2:5353 100 50" "$thresholds"
check_eq "sync daemons (no instance to follow: both roles)" \
    "master sync daemon (mcast=sync0, syncid=51, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
backup sync daemon (mcast=sync0, syncid=51, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)" "$(ipvsadm -L --daemon)"
check_eq "timeouts" "Timeout (tcp tcpfin udp): 900 120 300" "$(ipvsadm -L --timeout)"
check_eq "sloppy_tcp (active-active: a flow moved here mid-stream is scheduled)" 1 \
    "$(cat /proc/sys/net/ipv4/vs/sloppy_tcp)"

say "a second apply is a no-op"
check_status "haldir plan: nothing to do" 0 haldir plan -c /lab/haldir.toml
check_eq "apply again changes nothing" "nothing to do: the kernel matches /lab/haldir.toml" "$(haldir apply -c /lab/haldir.toml)"

say "a scheduler the kernel lacks is named"
cat > /lab/twos.toml <<'TOML'
[global]
state_dir = "/run/haldir-twos"
[[virtual_server]]
address = "10.9.9.9:80"
scheduler = "twos"
TOML
if [ -e "/lib/modules/$(uname -r)/kernel/net/netfilter/ipvs/ip_vs_twos.ko" ]; then
    check_status "twos where the kernel has it" 0 haldir apply -c /lab/twos.toml
else
    out=$(haldir apply -c /lab/twos.toml 2>&1)
    rc=$?
    check_eq "apply fails" 1 "$rc"
    case "$out" in
        *'this kernel has no "twos" scheduler (module ip_vs_twos)'*) ok "the error names the missing scheduler" ;;
        *) echo "$out"; fail "the error names the missing scheduler" ;;
    esac
fi

say "the sync daemon follows the configuration: restarted on change, stopped when dropped"
sed -i 's/sync_id = 51/sync_id = 52/' /lab/haldir.toml
check_status "apply" 0 haldir apply -c /lab/haldir.toml
check_eq "both daemons now use sync id 52" 2 "$(ipvsadm -L --daemon | grep -c 'syncid=52')"
sed -i '/^sync_daemon/d' /lab/haldir.toml
check_status "apply" 0 haldir apply -c /lab/haldir.toml
check_eq "no sync daemon is left" "" "$(ipvsadm -L --daemon)"
