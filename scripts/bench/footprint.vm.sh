# Runs inside the kernel lab VM (see scripts/bench/footprint).
WINDOW=30
FIRST=20000
INTERVAL=10

ulimit -n 65536
sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
sysctl -qw net.ipv4.tcp_tw_reuse=1
/lab/check_listeners $FIRST 10000 0 /tmp/accepts &
/usr/sbin/ip link add bench0 type veth peer name bench1 && /usr/sbin/ip addr add 10.9.0.1/24 dev bench0 && /usr/sbin/ip link set bench0 up && /usr/sbin/ip link set bench1 up

configs() { # SERVERS: /lab/haldir.toml and /lab/keepalived.conf, the same director
    local n=$1 s r services=$(($1 / 10))
    {
        printf '[global]\nstate_dir = "/run/haldir"\n[ipvs]\non_stop = "remove"\n'
        printf '[[vrrp_instance]]\nname = "VI_1"\ninterface = "bench0"\nvirtual_router_id = 51\npriority = 150\nadvert_interval = "1s"\nvirtual_ipaddress = ["10.9.0.100/32"]\n'
        s=0
        while [ $s -lt $services ]; do
            printf '[[virtual_server]]\naddress = "10.%d.%d.1:80"\nscheduler = "wlc"\nforwarding = "nat"\n' $((s / 250)) $((s % 250))
            printf 'check = { type = "tcp", interval = "%ss", timeout = "1s", fall = 2, rise = 1, retry_delay = "1s" }\n' $INTERVAL
            r=0
            while [ $r -lt 10 ]; do
                printf '[[virtual_server.real_server]]\naddress = "127.0.0.1:%d"\n' $((FIRST + s * 10 + r))
                r=$((r + 1))
            done
            s=$((s + 1))
        done
    } > /lab/haldir.toml
    {
        printf 'global_defs {\n  router_id bench\n}\n'
        printf 'vrrp_instance VI_1 {\n  state BACKUP\n  interface bench0\n  virtual_router_id 51\n  priority 150\n  advert_int 1\n  virtual_ipaddress {\n    10.9.0.100/32\n  }\n}\n'
        s=0
        while [ $s -lt $services ]; do
            printf 'virtual_server 10.%d.%d.1 80 {\n  delay_loop %d\n  lb_algo wlc\n  lb_kind NAT\n  protocol TCP\n' $((s / 250)) $((s % 250)) $INTERVAL
            r=0
            while [ $r -lt 10 ]; do
                printf '  real_server 127.0.0.1 %d { weight 1\n    TCP_CHECK { connect_timeout 1 retry 1 delay_before_retry 1 } }\n' $((FIRST + s * 10 + r))
                r=$((r + 1))
            done
            printf '}\n'
            s=$((s + 1))
        done
    } > /lab/keepalived.conf
}
rss_kb() { # resident memory of all processes named $1
    local m=0 p
    for p in $(pidof "$1"); do m=$((m + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done
    echo $m
}
peak_reset() { # the kernel's highest-RSS mark of every process named $1, from now on
    local p
    for p in $(pidof "$1"); do echo 5 > "/proc/$p/clear_refs"; done
}
peak_kb() { # the sum of those marks (each process's own peak: at most the sum's)
    local m=0 p
    for p in $(pidof "$1"); do m=$((m + $(awk '/^VmHWM/ {print $2}' "/proc/$p/status"))); done
    echo $m
}
live_dests() { ipvsadm -Ln | grep -c -- '-> 127.0.0.1' ; }

measure() { # NAME SERVERS
    local m i=0 samples=
    case $1 in
    haldir) haldir run -c /lab/haldir.toml 2>/tmp/haldir.log & ;;
    keepalived) keepalived -n -l -D -f /lab/keepalived.conf >/tmp/keepalived.log 2>&1 & ;;
    esac
    local pid=$!
    wait_until has_vip_here || fail "$1 becomes master"
    # Every server probed at least twice before measuring. The peak is the kernel's mark,
    # which a one-second sample would miss: haldir's drift check (every 30 s, one in the
    # window) reads the whole table for about a second at 10,000 servers in the VM.
    sleep $((2 * INTERVAL))
    peak_reset "$1"
    while [ $i -lt "$WINDOW" ]; do
        m=$(rss_kb "$1")
        samples="$samples $m"
        sleep 1; i=$((i + 1))
    done
    # The median sample: what the director holds between its periodic jobs.
    local median peak
    peak=$(peak_kb "$1")
    median=$(printf '%s\n' $samples | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    check_eq "$1 with $2 servers: every server in the table" "$2" "$(live_dests)"
    echo "$1 $2 $peak $median" >> /tmp/results
    kill -TERM $pid; wait $pid
    ipvsadm -C
}
has_vip_here() { /usr/sbin/ip -4 addr show dev bench0 | grep -q 10.9.0.100; }

for n in 0 1000 10000; do
    configs $n
    check_run "the haldir config ($n servers) is valid" haldir check -c /lab/haldir.toml
    say "$n servers: haldir"
    measure haldir $n
    say "$n servers: keepalived"
    measure keepalived $n
done

say "resident memory (RSS, all processes, over ${WINDOW} s: median of a sample a second, and peak), TCP checks every ${INTERVAL} s"
awk '
    { peak[$1 " " $2] = $3 / 1024; median[$1 " " $2] = $4 / 1024 }
    END {
      printf "%-22s %25s %25s %8s %8s\n", "checked real servers", "haldir median / peak", "keepalived median / peak", "median", "peak"
      split("0 1000 10000", ns, " ")
      for (i = 1; i <= 3; i++) {
        h = "haldir " ns[i]; k = "keepalived " ns[i]
        printf "%-22s %10.1f / %6.1f MiB %10.1f / %6.1f MiB %8.2f %8.2f\n", ns[i], median[h], peak[h], median[k], peak[k], median[h] / median[k], peak[h] / peak[k]
      }
    }' /tmp/results
