# Real keepalived configurations from the corpus (tests/fixtures/keepalived/corpus), each run
# by keepalived as written and by haldir as converted, in the same namespace with the same
# real servers: the same IPVS table (ipvsadm-save -n, sorted) and the same virtual addresses
# on the same interfaces once each is master. The files keep their own addresses and
# interfaces; the namespace is given them (each VRRP interface on the bridge, the real servers'
# addresses on a server host that answers on each checked port).
#
#   codis-lvs-dr        DR, two services, TCP_CHECK with connect_port
#   devops-lvs-dr-web   DR, TCP_CHECK with nb_get_retry (unknown to keepalived there)
#   pihole-dns-tcp-lvs  no lb_kind (keepalived's NAT), TCP on port 53
#   sample-fwmark       a fwmark service with NAT (keepalived's doc/samples)
#   magic-lvs-oracle-sorry  "lb_kind dr" in lower case: keepalived runs NAT, so does haldir

bridge br0
netns srv
attach srv br0 eth0 10.0.0.250/24

start_k() { # CONF
    rm -f /tmp/k*.pid
    spawn_at lb1 /tmp/lb1.pid keepalived -n -l -D -f "$1" -i lb1 -p /tmp/kmain.pid \
        -r /tmp/kvrrp.pid -c /tmp/kchk.pid >>/tmp/lb1.log 2>&1
}
start_h() { spawn_at lb1 /tmp/lb1.pid haldir run -c "$1" 2>>/tmp/lb1.log; }
stop() {
    kill -TERM "$(cat /tmp/lb1.pid)" 2>/dev/null
    wait_until sh -c "! kill -0 $(cat /tmp/lb1.pid) 2>/dev/null" || kill -9 "$(cat /tmp/lb1.pid)"
    rm -f /tmp/k*.pid
    at lb1 ipvsadm -C
    true
}
table() { at lb1 ipvsadm-save -n | sort; }
dests() { at lb1 ipvsadm-save -n | grep -c '^-a'; }
has_dests() { [ "$(dests)" = "$1" ]; }
# The addresses VRRP put on the file's interfaces (the setup's own addresses left out).
vips() { at lb1 ip -o addr show | awk '$2 != "lo" {print $2, $4}' | grep -v -e ' 10\.0\.0\.1/24$' -e ' 10\.255\.' -e ' fe80:' | sort; }
has_vips() { [ -n "$(vips)" ]; }
logs() { echo "== lb1"; tail -30 /tmp/lb1.log; }

# host LB_IFACES… -- RS_IP:PORT…: a fresh director namespace with those interfaces (on the
# bridge, each with an address of 10.255.K.0/24 for VRRP to send from), and the real
# servers' addresses answering on those ports.
host() {
    ip netns del lb1 2>/dev/null
    netns lb1
    attach lb1 br0 eth0 10.0.0.1/24
    local k=0
    while [ "$1" != "--" ]; do
        k=$((k + 1))
        [ "$1" = eth0 ] || attach lb1 br0 "$1" "10.255.$k.1/24"
        shift
    done
    shift
    for p in $(cat /tmp/srv.pids 2>/dev/null); do kill "$p" 2>/dev/null; done
    : > /tmp/srv.pids
    for target in "$@"; do
        ip=${target%:*}
        port=${target#*:}
        at srv ip addr add "$ip/32" dev eth0 2>/dev/null
        at lb1 ip route add "$ip/32" dev eth0 2>/dev/null
        mkdir -p /tmp/www
        echo ok > /tmp/www/index.html
        /usr/sbin/ip netns exec srv busybox httpd -f -p "$ip:$port" -h /tmp/www &
        echo $! >> /tmp/srv.pids
    done
    at srv ip route add 10.0.0.0/24 dev eth0 2>/dev/null
    true
}

# same CONF DESTS [lossy]: both programs on the file, compared.
same() {
    local conf=$1 want=$2 name
    name=$(basename "$conf" .conf)
    say "$name"
    start_k "/lab/$conf"
    wait_until has_dests "$want" || { table; logs; fail "$name: keepalived programs $want real servers"; }
    # A check round on every server, the count held all along.
    holds 4 has_dests "$want" || { table; logs; fail "$name: keepalived keeps $want real servers"; }
    local k_vips
    k_table=$(table)
    if grep -q '^vrrp_instance' "/lab/$conf"; then
        wait_until has_vips || { logs; fail "$name: keepalived puts its VIPs up"; }
        k_vips=$(vips)
    fi
    stop
    # keepalived's VIPs go with it (a clean stop removes them; be sure).
    echo "$k_vips" | while read -r dev addr; do
        [ -n "$addr" ] && at lb1 ip addr del "$addr" dev "$dev" 2>/dev/null
    done
    haldir import keepalived "/lab/$conf" --conditional lb1 > "/lab/$name.toml" 2>/tmp/import.err
    local rc=$?
    if [ "$3" = lossy ]; then
        [ $rc = 1 ] && grep -q 'not converted' /tmp/import.err || { cat /tmp/import.err; fail "$name converts, its losses listed"; }
        ok "$name converts, with $(grep -c 'not converted' /tmp/import.err) reported loss(es) outside IPVS"
    else
        [ $rc = 0 ] || { cat /tmp/import.err; fail "$name converts with nothing lost"; }
        ok "$name converts with nothing lost"
    fi
    start_h "/lab/$name.toml"
    wait_until has_dests "$want" || { table; logs; fail "$name: haldir programs $want real servers"; }
    holds 4 has_dests "$want" || { table; logs; fail "$name: haldir keeps $want real servers"; }
    check_eq "$name: the same ipvsadm-save -n" "$k_table" "$(table)"
    echo "$k_table" | sed 's/^/    /' 
    if [ -n "$k_vips" ]; then
        wait_until has_vips || { logs; fail "$name: haldir puts its VIPs up"; }
        check_settles "$name: the same virtual addresses on the same interfaces" 5 "$k_vips" vips
    fi
    stop
}

host eth3 -- 192.168.188.101:19000 192.168.188.102:19000 192.168.188.101:8001 192.168.188.102:8001
same codis-lvs-dr.conf 4

host eth0 -- 192.168.32.149:80 192.168.32.151:80
same devops-lvs-dr-web.conf 2

host eth0 -- 192.168.0.101:53 192.168.0.102:53
same pihole-dns-tcp-lvs.conf 2

host -- 192.168.201.100:80 192.168.201.101:80
same sample-fwmark.conf 2

host eth0 -- $(grep -o 'real_server [0-9.]* [0-9]*' /lab/magic-lvs-oracle-sorry.conf | awk '{print $2 ":" $3}' | sort -u)
same magic-lvs-oracle-sorry.conf "$(grep -c '^ *real_server' /lab/magic-lvs-oracle-sorry.conf)"
# k_table: the last file's table, equal in both.
nat() { echo "$k_table" | grep -q -- '-a .* -m '; }
check_run "magic-lvs-oracle-sorry: the lower-case dr ran as NAT (-m) in both" nat
