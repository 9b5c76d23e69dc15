# Runs inside the kernel lab VM (see scripts/bench/checks-load).
COUNT=10000
WINDOW=30
ROUNDS=3
FIRST=20000
SKIP=100          # every 100th listener is closed: those servers must end up down
SERVICES=$((COUNT / 10))

say "health-check benchmark: $COUNT TCP checks at 1 s, ${WINDOW} s measured"
ulimit -n 65536
sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
sysctl -qw net.ipv4.tcp_tw_reuse=1
/lab/check_listeners $FIRST $COUNT $SKIP /tmp/accepts &

# The same servers and checks for both: SERVICES virtual servers x 10 real servers, NAT.
{
    echo '[global]'; echo 'state_dir = "/run/haldir"'; echo '[ipvs]'; echo 'on_stop = "remove"'
    s=0
    while [ $s -lt $SERVICES ]; do
        echo "[[virtual_server]]"
        echo "address = \"10.$((s / 250)).$((s % 250)).1:80\""
        echo 'scheduler = "wlc"'; echo 'forwarding = "nat"'
        echo 'check = { type = "tcp", interval = "1s", timeout = "1s", fall = 2, rise = 1, retry_delay = "1s" }'
        r=0
        while [ $r -lt 10 ]; do
            echo "[[virtual_server.real_server]]"; echo "address = \"127.0.0.1:$((FIRST + s * 10 + r))\""
            r=$((r + 1))
        done
        s=$((s + 1))
    done
} > /lab/haldir.toml
{
    echo 'global_defs { router_id bench }'
    s=0
    while [ $s -lt $SERVICES ]; do
        echo "virtual_server 10.$((s / 250)).$((s % 250)).1 80 {"
        echo '  delay_loop 1'; echo '  lb_algo wlc'; echo '  lb_kind NAT'; echo '  protocol TCP'
        r=0
        while [ $r -lt 10 ]; do
            echo "  real_server 127.0.0.1 $((FIRST + s * 10 + r)) { weight 1"
            echo '    TCP_CHECK { connect_timeout 1 retry 1 delay_before_retry 1 } }'
            r=$((r + 1))
        done
        echo '}'
        s=$((s + 1))
    done
} > /lab/keepalived.conf
# The same, with half-open checks (a SYN answered by a SYN-ACK, never a connection).
sed 's/check = { type = "tcp",/check = { type = "tcp", half_open = true,/' /lab/haldir.toml > /lab/haldir-half.toml
check_run "the haldir config is valid" haldir check -c /lab/haldir.toml
check_run "the half-open config is valid" haldir check -c /lab/haldir-half.toml

ticks() { # CPU ticks (1/100 s) of all processes named $1: "user system"
    local u=0 s=0 p
    for p in $(pidof "$1"); do
        set -- $(sed 's/.*) //' "/proc/$p/stat")
        u=$((u + ${12})); s=$((s + ${13}))
    done
    echo "$u $s"
}
rss_kb() { # resident memory of all processes named $1
    local m=0 p
    for p in $(pidof "$1"); do m=$((m + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done
    echo $m
}
accepts() { cat /tmp/accepts; }
resets() { # RSTs this host sent: one per half-open probe, from our kernel (the SYN-ACK of an
    # open server) or from the listener's side (a closed one)
    awk '/^Tcp:/ { if (h) { for (i = 1; i <= NF; i++) if (n[i] == "OutRsts") print $i } else { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } }' /proc/net/snmp
}
live_dests() { ipvsadm -Ln | grep -c -- '-> 127.0.0.1' ; }
expected_up=$((COUNT - COUNT / SKIP))

measure() { # PROCESS [LABEL [COUNTER]]: after warm-up, CPU and checks over WINDOW seconds
    local proc=$1 label=${2:-$1} counter=${3:-accepts}
    sleep 8
    set -- $(ticks "$proc"); local u0=$1 s0=$2 a0; a0=$($counter)
    sleep "$WINDOW"
    set -- $(ticks "$proc"); local u1=$1 s1=$2 a1; a1=$($counter)
    checks=$((a1 - a0)); cpu=$((u1 - u0 + s1 - s0)); rss=$(rss_kb "$proc")
    echo "$label: user $((u1 - u0)) ticks, system $((s1 - s0)) ticks"
    if [ "$counter" = accepts ]; then
        # Every listening server answered; the closed ones are probed as often but not counted.
        total=$((checks * COUNT / expected_up))
    else
        total=$checks
    fi
    echo "$label checks=$total cpu_ticks=$cpu rss_kb=$rss live=$(live_dests)" | tee -a /tmp/results
}

settle() { # until the last run's TIME_WAIT sockets are gone (keepalived's checks close with a
    # FIN and leave one per check for 60 s; the next run's connects would search past them)
    local i=0
    while [ "$(awk '/^TCP:/ {for (i = 1; i < NF; i++) if ($i == "tw") print $(i + 1)}' /proc/net/sockstat)" -gt 100 ] && [ $i -lt 90 ]; do
        sleep 1; i=$((i + 1))
    done
}

# Haldir and keepalived in turn, ROUNDS times: under the VM's emulation one run's figure moves
# by a tenth or more with the host's load, so each round is printed and the medians compared.
round=1
while [ $round -le $ROUNDS ]; do
    say "round $round: haldir"
    haldir run -c /lab/haldir.toml 2>/tmp/haldir.log &
    hpid=$!
    measure haldir
    check_eq "haldir: every open server up, every closed one out" "$expected_up" "$(live_dests)"
    kill -TERM $hpid; wait $hpid
    ipvsadm -C
    settle

    say "round $round: keepalived"
    keepalived -C -n -l -D -f /lab/keepalived.conf >/tmp/keepalived.log 2>&1 &
    kpid=$!
    measure keepalived
    check_eq "keepalived: every open server up, every closed one out" "$expected_up" "$(live_dests)"
    kill -TERM $kpid; wait $kpid
    ipvsadm -C
    settle

    say "round $round: haldir, half-open checks"
    haldir run -c /lab/haldir-half.toml 2>/tmp/haldir-half.log &
    hpid=$!
    measure haldir half-open resets
    check_eq "half-open: every open server up, every closed one out" "$expected_up" "$(live_dests)"
    check_eq "half-open: no connection reached a listener" "$(accepts)" "$(sleep 2; accepts)"
    kill -TERM $hpid; wait $hpid
    ipvsadm -C
    settle

    say "round $round: the floor (bare system calls)"
    /lab/check_floor $FIRST $COUNT &
    fpid=$!
    measure check_floor
    kill -TERM $fpid; wait $fpid
    settle
    round=$((round + 1))
done

say "results ($COUNT real servers, TCP checks at 1 s, ${WINDOW} s a run, median of $ROUNDS rounds)"
awk -v w="$WINDOW" '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j] + 0 < a[j - 1] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { split($2, c, "="); split($3, t, "="); split($4, r, "=");
      per[$1] = per[$1] " " (t[2] / 100) / (c[2] / 1000); rate[$1] = rate[$1] " " c[2] / w; mem[$1] = mem[$1] " " r[2] / 1024 }
    END {
      h = "haldir"; k = "keepalived"; f = "check_floor"; o = "half-open"
      ph = median(per[h]); pk = median(per[k]); pf = median(per[f]); po = median(per[o])
      printf "%-28s %12s %12s %12s %8s\n", "", h, k, "floor", "ratio"
      printf "%-28s %12.1f %12.1f %12.1f\n", "checks per second", median(rate[h]), median(rate[k]), median(rate[f])
      printf "%-28s %12.4f %12.4f %12.4f %8.2f\n", "CPU s per 1,000 checks", ph, pk, pf, ph / pk
      # What each checker spends beyond the system calls every connect check makes.
      printf "%-28s %12.4f %12.4f %12s %8.2f\n", "  of it above the floor", ph - pf, pk - pf, "", (pk > pf) ? (ph - pf) / (pk - pf) : 0
      printf "%-28s %12.1f %12.1f %12.1f %8.2f\n", "memory (RSS, MiB)", median(mem[h]), median(mem[k]), median(mem[f]), median(mem[h]) / median(mem[k])
      printf "haldir with half_open = true (a SYN, no connection; not what keepalived TCP_CHECK does):\n"
      printf "%-28s %12.1f\n", "checks per second", median(rate[o])
      printf "%-28s %12.4f %12.4f %12s %8.2f\n", "CPU s per 1,000 checks", po, pk, "", po / pk
      printf "%-28s %12.1f %12.1f %12s %8.2f\n", "memory (RSS, MiB)", median(mem[o]), median(mem[k]), "", median(mem[o]) / median(mem[k])
    }' /tmp/results
