# Appended to scripts/bench/ipvs-load's scenario, inside the kernel lab VM: the reload row.
# With the whole table loaded by a running daemon, `haldir reload` of the file with one weight
# changed, against `haldir apply` of the whole table from empty (the same file).
table_toml() { # WEIGHT of the first real server of the middle service
    printf '[global]\nstate_dir = "/run/haldir-bench"\nreconcile_interval = "1h"\n'
    local s=0 d w
    while [ $s -lt $SERVICES ]; do
        printf '[[virtual_server]]\naddress = "10.%d.%d.1:80"\nscheduler = "wlc"\nforwarding = "dr"\n' $((s / 250)) $((s % 250))
        d=0
        while [ $d -lt $DESTS ]; do
            w=$((d + 1)); [ $s = $((SERVICES / 2)) ] && [ $d = 0 ] && w=$1
            printf '[[virtual_server.real_server]]\naddress = "172.16.%d.%d:80"\nweight = %d\n' $((s % 250)) $((d + 1)) $w
            d=$((d + 1))
        done
        s=$((s + 1))
    done
}
ms_of() { local a; a=$(now_ms); "$@" > /tmp/out 2>&1 || { cat /tmp/out; fail "$*"; }; echo $(( $(now_ms) - a )); }
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
table_toml 1 > /tmp/reload.toml
full=""
i=0
while [ $i -lt "$REPS" ]; do
    ipvsadm -C; rm -rf /run/haldir-bench
    full="$full $(ms_of haldir apply -c /tmp/reload.toml)"
    i=$((i + 1))
done
ipvsadm -C; rm -rf /run/haldir-bench
HALDIR_LOG=haldir=debug haldir run -c /tmp/reload.toml 2>/tmp/daemon.log &
loaded() { [ "$(ipvsadm -Ln | grep -c -- '-> 172')" -ge $((SERVICES * DESTS)) ] && haldir -c /tmp/reload.toml status > /dev/null 2>&1; }
wait_until loaded || { tail /tmp/daemon.log; fail "the daemon loads the table"; }
one=""
i=0
while [ $i -lt "$REPS" ]; do
    table_toml $((100 + i)) > /tmp/reload.new && cp /tmp/reload.new /tmp/reload.toml
    one="$one $(ms_of haldir -c /tmp/reload.toml reload)"
    # The file watch reloads too, once the write has settled (finding nothing left to do):
    # let it finish before the next measurement.
    sleep 3
    i=$((i + 1))
done
check_run "the last weight is in the kernel" sh -c "ipvsadm -Ln -t 10.$(( SERVICES / 2 / 250 )).$(( SERVICES / 2 % 250 )).1:80 | grep -q '172.16.$(( SERVICES / 2 % 250 )).1:80 *Route *$((99 + REPS))'"
grep 'reload\|reconcile' /tmp/daemon.log | tail -24
# Any command's start in this VM (exec, loader, page faults under TCG): both sides pay it once.
start=""
i=0
while [ $i -lt "$REPS" ]; do
    start="$start $(ms_of haldir --version)"
    i=$((i + 1))
done
# The daemon's own time for a reload: from accepting the control connection to the answer.
answered=$(grep 'control: answered' /tmp/daemon.log | tail -n "$REPS" \
    | sed -n 's/.*took=\([0-9.]*\)ms.*/\1/p' | awk '{printf "%d\n", $1 + 0.5}' | median)
mf=$(echo "$full" | median); mo=$(echo "$one" | median); ms=$(echo "$start" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-52s %12s %12s %8s\n' "" "reload" "apply (full)" "ratio"
printf '%-52s %9s ms %9s ms %8s\n' "one weight changed, reload vs full apply" "$mo" "$mf" "$(ratio "$mo" "$mf")"
printf '%-52s %9s ms %9s ms %8s\n' "the same, less a command's start ($ms ms)" "$((mo - ms))" "$((mf - ms))" "$(ratio $((mo - ms)) $((mf - ms)))"
printf '%-52s %9s ms\n' "  of which the daemon's answer (control socket)" "${answered:-?}"
