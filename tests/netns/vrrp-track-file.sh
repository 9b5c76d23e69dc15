# A tracked file moves an instance's priority, as keepalived's track_file does
# (trackers/track_file.c): the number in the file times the weight is added to the priority,
# clipped to -254..253 where -254 means FAULT; a missing file or one without a number reads
# as 0 (strtol with base 0: "0x2" is 2); init_file writes the file when it is missing; with
# weight 0 and reverse, a 0 in the file is the FAULT; a file being written is read once it
# is closed. The same writes are made with keepalived
# 2.2.7 and with haldir as the tracking router, and each must advertise the priorities
# keepalived's rules give, seen on the wire.

bridge br0
for ns in t p client; do netns $ns; done
attach t br0 eth0 10.0.0.11/24
attach p br0 eth0 10.0.0.12/24
attach client br0 eth0 10.0.0.10/24
mkdir -p "$LAB/tf"
F="$LAB/tf/state"

cat > "$LAB/p.toml" <<TOML
[global]
state_dir = "$LAB/state-p"
$(vrrp_instance priority=10)
TOML
haldir_conf() { # ENTRY_OPTIONS (TOML keys of the instance's entry)
    cat > "$LAB/t.toml" <<TOML
[global]
state_dir = "$LAB/state-t"
[[track_file]]
name = "tf"
file = "$F"
weight = -20
init = { value = 3 }
$(vrrp_instance priority=150)
track_file = [{ name = "tf"$1 }]
TOML
}
keepalived_conf() { # ENTRY_OPTIONS (keepalived's words after the name)
    cat > "$LAB/t.conf" <<CONF
track_file tf {
  file "$F"
  weight -20
  init_file 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 150
  version 3
  advert_int 0.1
  virtual_ipaddress { 10.0.0.100/32 dev eth0 }
  track_file {
    tf $1
  }
}
CONF
}
LOGS="t p"

at client python3 "$(dirname "$SCENARIO")/tools/vrrp-events.py" eth0 10.0.0.100 "$LAB/capturing" > "$LAB/events" &
wait_for 3 test -e "$LAB/capturing" || fail "the client captures"
start_haldir p

# advertises PRIORITY: t's last advert carries it; FAULT: t has let the VIP go to p.
last_t() { grep "advert 10.0.0.11 " "$LAB/events" | tail -n 1 | cut -d' ' -f3; }
advertises() {
    if [ "$1" = FAULT ]; then has_vip p && lacks_vip t; else [ "$(last_t)" = "$1" ] && has_vip t; fi
}
# step WRITE EXPECTED: WRITE is a value echoed into the file, or "rm".
step() {
    if [ "$1" = rm ]; then rm -f "$F"; else echo "$1" > "$F"; fi
    wait_for 5 advertises "$2" || { logs t p; fail "$KIND: after \"$1\", t advertises $2 (last advert: $(last_t))"; }
    ok "$KIND: \"$1\" in the file → $2"
}

run() { # KIND
    KIND=$1
    rm -rf "$LAB/state-t" "$F" "$LAB"/t.*.pid
    haldir_conf ""; keepalived_conf ""
    if [ "$KIND" = haldir ]; then start_haldir t; else start_keepalived t; fi
    wait_for 5 advertises 90 || { logs t p; fail "$KIND: init_file wrote 3: t advertises 150 - 60 = 90 (last: $(last_t))"; }
    check_eq "$KIND: init_file wrote the missing file" 3 "$(cat "$F")"
    step -2 190
    step 0x2 110
    step rm 150
    step 5 50
    step abc 150
    step 13 FAULT
    step 0 150
    stop_daemon t
    ip -n t addr del 10.0.0.100/32 dev eth0 2>/dev/null

    say "$KIND: weight 0 and reverse on the instance's entry: 0 in the file is the FAULT"
    rm -rf "$LAB/state-t" "$LAB"/t.*.pid
    echo 1 > "$F"
    haldir_conf ", weight = 0, reverse = true"; keepalived_conf "weight 0 reverse"
    if [ "$KIND" = haldir ]; then start_haldir t; else start_keepalived t; fi
    wait_for 5 advertises 150 || { logs t p; fail "$KIND: 1 in the file, t at 150"; }
    step 0 FAULT
    step 7 150
    # A writer that truncates the file, then writes a second later: the file is read when the
    # write is closed (IN_CLOSE_WRITE), never empty in between, where 0 would be the FAULT.
    ( exec > "$F"; sleep 1; echo 3 ) &
    writer=$!
    check_holds "$KIND: a write in progress is not read (no FAULT while the file is empty)" 1.5 advertises 150
    wait $writer
    stop_daemon t
    ip -n t addr del 10.0.0.100/32 dev eth0 2>/dev/null
}

say "keepalived tracks the file"
run keepalived
say "haldir tracks the file"
run haldir
stop_daemon p
