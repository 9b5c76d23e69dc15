# A split that heals: the master (w, priority 150) is frozen, the backup (l, 100) takes over,
# then w comes back and hears l's adverts of a lower priority. keepalived's master answers
# each with a burst of garp_lower_prio_repeat gratuitous ARPs (vrrp/vrrp.c,
# vrrp_state_master_rx) and runs notify_master_rx_lower_pri (vrrp_notify.c, send_event_notify),
# and a yielding master with higher_prio_send_advert sends one advert of its own before it goes
# back to backup. Each run has haldir on at least one side and
# keepalived 2.2.7 on the other where it can: what haldir does is checked against what
# keepalived does in the same place, counted on the wire.

bridge br0
for ns in w l client; do netns $ns; done
attach w br0 eth0 10.0.0.11/24
attach l br0 eth0 10.0.0.12/24
attach client br0 eth0 10.0.0.10/24
# The client takes an entry from a gratuitous ARP alone.
at client sysctl -qw net.ipv4.conf.eth0.arp_accept=1

printf '#!/bin/sh\necho rx >> "%s/$1.rx"\n' "$LAB" > "$LAB/rx.sh"
chmod 755 "$LAB/rx.sh"
haldir_conf() { # NAME PRIORITY
    cat > "$LAB/$1.toml" <<TOML
[global]
state_dir = "$LAB/state-$1"
script_user = "root"
$(vrrp_instance priority=$2)
garp = { delay = "0s", repeat = 1, lower_prio_repeat = 2, lower_prio_delay = "0s" }
higher_prio_send_advert = true
notify = { master_rx_lower_pri = ["$LAB/rx.sh", "$1"] }
TOML
}
keepalived_conf() { # NAME PRIORITY
    cat > "$LAB/$1.conf" <<CONF
global_defs {
  router_id $1
  script_user root
  enable_script_security
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority $2
  version 3
  advert_int 0.1
  garp_master_delay 0
  garp_master_repeat 1
  garp_lower_prio_repeat 2
  garp_lower_prio_delay 0
  higher_prio_send_advert
  notify_master_rx_lower_pri "$LAB/rx.sh $1"
  virtual_ipaddress { 10.0.0.100/32 dev eth0 }
}
CONF
}
start() { # NAME haldir|keepalived
    rm -rf "$LAB/state-$1" "$LAB/$1".*.pid
    if [ "$2" = haldir ]; then start_haldir "$1"; else start_keepalived "$1"; fi
}
# vrrp_pid NAME: the process that runs VRRP (keepalived's VRRP child, or haldir).
vrrp_pid() { if [ -s "$LAB/$1.vrrp.pid" ]; then cat "$LAB/$1.vrrp.pid"; else pid_of "$1"; fi; }
LOGS="w l"

at client python3 "$(dirname "$SCENARIO")/tools/vrrp-events.py" eth0 10.0.0.100 "$LAB/capturing" > "$LAB/events" &
wait_for 3 test -e "$LAB/capturing" || fail "the client captures"
wmac=$(mac_of w)

# since LINE: the events after line LINE.
since() { tail -n +"$(($1 + 1))" "$LAB/events"; }
count() { grep -c "$1" || true; }

heal() { # W_KIND L_KIND
    say "$1 (150) frozen, $2 (100) takes over, $1 returns"
    for n in w l; do ip -n $n addr del 10.0.0.100/32 dev eth0 2>/dev/null; done
    rm -f "$LAB/w.rx"
    haldir_conf w 150; keepalived_conf w 150; haldir_conf l 100; keepalived_conf l 100
    start w "$1"
    check_within "$1 is master" 5 has_vip w
    start l "$2"
    wait_for 5 client_sees w || fail "the client learned the VIP at w"

    frozen=$(wc -l < "$LAB/events")
    kill -STOP "$(vrrp_pid w)"
    wait_for 3 client_sees l || { kill -CONT "$(vrrp_pid w)"; logs w l; fail "l takes over while w is frozen"; }
    sleep 0.3 # l's adverts queue up at the frozen w
    thawed=$(wc -l < "$LAB/events")
    kill -CONT "$(vrrp_pid w)"
    check_within "l yields the VIP back" 3 lacks_vip l
    check_within "w's bursts reached the client" 3 client_sees w
    # Until nothing new for a while: the bursts and adverts that follow the heal are over.
    settled_at=0
    quiet() { n=$(since "$thawed" | grep -vc "advert 10.0.0.11"); [ "$n" = "$settled_at" ] || { settled_at=$n; return 1; }; }
    wait_for 5 holds 0.5 quiet || fail "the heal settles"
    lower=$(since "$frozen" | count "advert 10.0.0.12 100")
    garps=$(since "$thawed" | count "garp $wmac")
    echo "l's adverts at priority 100: $lower; w's gratuitous ARPs after the thaw: $garps"
    [ "$lower" -ge 1 ] || fail "l advertised as master"
    check_eq "$1 answered each of l's $lower adverts with garp_lower_prio_repeat = 2 gratuitous ARPs" \
        $((2 * lower)) "$garps"
    rx() { [ "$(wc -l < "$LAB/w.rx" 2>/dev/null || echo 0)" = "$lower" ]; }
    wait_for 5 rx || fail "$1 ran notify_master_rx_lower_pri once per lower advert ($lower): $(wc -l < "$LAB/w.rx" 2>/dev/null)"
    ok "$1 ran notify_master_rx_lower_pri once per lower advert ($lower)"
    # l's adverts after w's first one since the thaw: the one higher_prio_send_advert sends.
    first_w=$(since "$thawed" | grep -n "advert 10.0.0.11 150" | head -n 1 | cut -d: -f1)
    yielded=$(since "$((thawed + first_w))" | count "advert 10.0.0.12 100")
    [ "$yielded" -ge 1 ] || { since "$thawed"; fail "$2, yielding, sent an advert of its own (higher_prio_send_advert)"; }
    ok "$2, yielding, sent an advert of its own (higher_prio_send_advert): $yielded"
    stop_daemon w l
}

heal haldir haldir
heal keepalived haldir
heal haldir keepalived
