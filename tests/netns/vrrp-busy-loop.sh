# VRRP never waits for the rest of the daemon: while haldir parses a very large file that it
# then refuses, and answers `haldir status` in a loop, the master keeps advertising every
# 100 ms. An observer on the segment records the longest gap between its adverts: it must stay
# within 2 intervals. (When the instances shared the daemon's loop, the parse alone held the
# adverts back for seconds and the backup took over.)

bridge br0
for ns in lb1 lb2 obs; do netns $ns; done
attach lb1 br0 eth0 10.0.0.11/24
attach lb2 br0 eth0 10.0.0.12/24
attach obs br0 eth0 10.0.0.10/24

director() { # NAME PRIORITY
    cat > "$LAB/$1.toml" <<TOML
[global]
state_dir = "$LAB/state-$1"
$(vrrp_instance priority=$2)
TOML
}
director lb1 150
director lb2 100
start_haldir lb1
start_haldir lb2
wait_until has_vip lb1 || { logs; fail "lb1 is master"; }
ok "lb1 is master"
transitions() { grep -c 'VRRP state' "$LAB/lb2.log"; }
before=$(transitions)

# A valid instance with 300,000 excluded addresses, then a key haldir refuses: parsed and
# validated in full, then the reload is refused and the running configuration kept.
python3 - "$LAB/big.toml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('[[vrrp_instance]]\nname = "VI_1"\ninterface = "eth0"\nvirtual_router_id = 51\n')
    f.write('priority = 150\nversion = 3\nadvert_interval = "100ms"\n')
    f.write('virtual_ipaddress = ["10.0.0.100/32"]\nvirtual_ipaddress_excluded = [\n')
    for i in range(300000):
        f.write(f'"10.{1 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}/32",\n')
    f.write(']\n[global]\nno_such_key = 1\n')
PY
say "a refused reload of $(du -h "$LAB/big.toml" | cut -f1) and status queries, while an observer listens"
ip netns exec obs python3 "$(dirname "$SCENARIO")/tools/advert-gaps.py" 10.0.0.11 12 10.0.0.10 "$LAB/observing" > "$LAB/gaps" &
observer=$!
wait_for 3 test -e "$LAB/observing" || fail "the observer hears lb1"
cp "$LAB/lb1.toml" "$LAB/lb1.good"
cp "$LAB/big.toml" "$LAB/lb1.toml"
start=$(now_ms)
ip netns exec lb1 haldir -c "$LAB/lb1.good" reload > "$LAB/reload.out" 2>&1 && { cat "$LAB/reload.out"; fail "the file is refused"; }
took=$(( $(now_ms) - start ))
i=0
while [ $i -lt 40 ]; do ip netns exec lb1 haldir -c "$LAB/lb1.good" status > /dev/null 2>&1; i=$((i + 1)); done
cp "$LAB/lb1.good" "$LAB/lb1.toml"
wait "$observer"
read -r count gap < "$LAB/gaps"
ok "the refused reload took ${took} ms; lb1 sent $count adverts in 12 s, the longest gap ${gap} ms"
[ "$gap" -le 200 ] || { cat "$LAB/reload.out"; logs; fail "the longest gap between adverts is within 2 intervals (200 ms): it was ${gap} ms"; }
ok "no gap longer than 2 intervals"
check_eq "lb2 never took over" "$before" "$(transitions)"
check_run "lb1 still holds the VIP" has_vip lb1
grep -q 'no_such_key' "$LAB/reload.out" && ok "the reload was refused: $(grep -o 'unknown key.*no_such_key[^ ]*' "$LAB/reload.out" | head -1)" \
    || { cat "$LAB/reload.out"; fail "the refusal names the key"; }
stop_daemon lb1 lb2
