# UDP and DNS checks drive the IPVS table of a UDP virtual server with real DNS servers
# (dnsmasq) as real servers, `ipvsadm -Ln` as witness. rs1 is checked by a dns check (the
# answer for www.svc.test required), rs2 by a udp check (keepalived's UDP_CHECK rule: silence is
# fine, an ICMP port unreachable is not). Each goes down and comes back:
#   rs1: dnsmasq stops (ICMP unreachable) → dnsmasq returns knowing no www.svc.test (NXDOMAIN)
#        → dnsmasq returns with the record;
#   rs2: dnsmasq stops (ICMP unreachable) → dnsmasq returns.

bridge br0
for ns in dir rs1 rs2; do netns $ns; done
attach dir br0 eth0 10.0.0.1/24
attach rs1 br0 eth0 10.0.0.11/24
attach rs2 br0 eth0 10.0.0.12/24

# dns NS [RECORD]: a dnsmasq in NS answering for svc.test from its own data only; with RECORD
# it knows www.svc.test.
dns() {
    local ns=$1 record=${2:-}
    local args="--keep-in-foreground --no-resolv --no-hosts --user=root --port=53"
    args="$args --local=/svc.test/ --pid-file=/tmp/dnsmasq-$ns.pidfile --log-queries"
    [ -n "$record" ] && args="$args --host-record=www.svc.test,10.9.9.9"
    spawn_at "$ns" "/tmp/dnsmasq-$ns.pid" dnsmasq $args 2>>"/tmp/dnsmasq-$ns.log"
    wait_for 5 listening "$ns" 53 udp || fail "dnsmasq listens in $ns"
}
undns() { kill "$(cat "/tmp/dnsmasq-$1.pid")" 2>/dev/null; wait "$(cat "/tmp/dnsmasq-$1.pid")" 2>/dev/null; true; }
dns rs1 yes
dns rs2 yes

cp "$fixtures/checks-udp-dns.toml" /lab/haldir.toml

table() { at dir ipvsadm -Ln; }
in_table() { table | grep -q "$1"; }
not_in_table() { ! in_table "$1"; }
status_of() { haldir -c /lab/haldir.toml status 2>/dev/null | grep "$1" || true; }

at dir haldir run -c /lab/haldir.toml 2>/tmp/haldir.log &
both() { in_table 10.0.0.11:53 && in_table 10.0.0.12:53; }
t=$(until_ms 8000 both) || { cat /tmp/haldir.log; table; fail "both DNS servers programmed"; }
ok "UDP 10.0.0.100:53 with both DNS servers (${t} ms)"
table | grep -q "^UDP  10.0.0.100:53 rr" || { table; fail "the service is UDP"; }
ok "the service is UDP"

say "rs1's DNS server stops: the dns check sees the ICMP port unreachable"
undns rs1
t=$(until_ms 5000 not_in_table 10.0.0.11:53) || { cat /tmp/haldir.log; table; fail "rs1 leaves"; }
ok "rs1 left the table after ${t} ms"
# (The probe in flight when the server died may time out; the next ones see the ICMP error.)
last_is() { status_of "$1" | grep -q "last check $2"; }
wait_until last_is 10.0.0.11:53 "icmp unreachable" || { haldir -c /lab/haldir.toml status; fail "status shows icmp unreachable"; }
ok "haldir status: rs1's last check icmp unreachable"

say "rs1's DNS server returns without the record: NXDOMAIN, still down"
dns rs1
wait_until last_is 10.0.0.11:53 "rcode NXDOMAIN" || { haldir -c /lab/haldir.toml status; cat /tmp/dnsmasq-rs1.log; fail "status shows rcode NXDOMAIN"; }
ok "haldir status: $(status_of 10.0.0.11:53 | grep -o 'last check rcode NXDOMAIN')"
check_run "rs1 stays out while the name is unknown" not_in_table 10.0.0.11:53

say "rs1's DNS server answers again"
undns rs1
dns rs1 yes
t=$(until_ms 5000 in_table 10.0.0.11:53) || { cat /tmp/haldir.log; table; fail "rs1 returns"; }
ok "rs1 is back after ${t} ms"

say "rs2's DNS server stops: the udp check sees the ICMP port unreachable"
undns rs2
t=$(until_ms 5000 not_in_table 10.0.0.12:53) || { cat /tmp/haldir.log; table; fail "rs2 leaves"; }
ok "rs2 left the table after ${t} ms"
wait_until last_is 10.0.0.12:53 "icmp unreachable" || { haldir -c /lab/haldir.toml status; fail "status shows icmp unreachable"; }
ok "haldir status: rs2's last check icmp unreachable"
dns rs2 yes
t=$(until_ms 5000 in_table 10.0.0.12:53) || { cat /tmp/haldir.log; table; fail "rs2 returns"; }
ok "rs2 is back after ${t} ms (silence is success for a udp check without require_reply)"
check_run "rs1 stayed in" in_table 10.0.0.11:53
