# A sync group keeps the public VIP and the real servers' gateway address on one director:
# when the gateway side of the master fails (tracked uplink down → FAULT), the whole group
# fails over, and comes back together. The group's notify commands run once per group state,
# as keepalived's (vrrp/vrrp_notify.c send_group_notifies: the state's own command with no
# arguments, then the generic one with "GROUP" name state 0).

bridge brA; bridge brB
for ns in lb1 lb2; do netns $ns; done
attach lb1 brA eth0 10.0.0.11/24
attach lb2 brA eth0 10.0.0.12/24
attach lb1 brB eth1 10.1.0.11/24
attach lb2 brB eth1 10.1.0.12/24
ip -n lb1 link add uplink type veth peer name uplink-peer
ip -n lb1 link set uplink-peer up
ip -n lb1 link set uplink up

director() { # NAME PRIORITY TRACK
    cat > "$LAB/$1.toml" <<TOML
[global]
state_dir = "$LAB/state-$1"
script_user = "root"
$(vrrp_instance priority=$2 name=VI_PUBLIC)
$(vrrp_instance priority=$2 name=VI_GATEWAY vrid=52 dev=eth1 vip=10.1.0.1/32)
$3
[[vrrp_sync_group]]
name = "G_NAT"
instances = ["VI_PUBLIC", "VI_GATEWAY"]
notify = { master = ["/bin/sh", "-c", "echo master >> $LAB/$1.group"], fault = ["/bin/sh", "-c", "echo fault >> $LAB/$1.group"], any = ["/bin/sh", "-c", "echo \"\$*\" >> $LAB/$1.group", "any"] }
TOML
}
director lb1 150 'track_interface = [{ name = "uplink" }]'
director lb2 100 ''

vip() { ip -n "$1" -o addr show | grep -q " $2/32 "; }
holds_both() { vip "$1" 10.0.0.100 && vip "$1" 10.1.0.1; }
holds_none() { ! vip "$1" 10.0.0.100 && ! vip "$1" 10.1.0.1; }
group_on() { holds_both "$1" && holds_none "$2"; }

start_haldir lb1
start_haldir lb2
t=$(until_ms 3000 group_on lb1 lb2) || { logs; fail "lb1 holds both addresses"; }
ok "lb1 holds the public VIP and the gateway address"

say "the gateway side of lb1 fails"
ip -n lb1 link set uplink down
t=$(until_ms 3000 group_on lb2 lb1) || { logs; fail "the group moves to lb2"; }
ok "both addresses moved to lb2 together (${t} ms)"
grep -q 'instance=VI_PUBLIC.*to="FAULT"' "$LAB/lb1.log" && ok "VI_PUBLIC followed VI_GATEWAY into FAULT" \
    || { logs; fail "VI_PUBLIC followed into FAULT"; }

say "it recovers"
ip -n lb1 link set uplink up
t=$(until_ms 3000 group_on lb1 lb2) || { logs; fail "the group returns to lb1"; }
ok "both addresses returned to lb1 (${t} ms)"
group_said() { [ "$(tr '\n' '|' < "$LAB/lb1.group")" = "$1" ]; }
want="GROUP G_NAT BACKUP 0|master|GROUP G_NAT MASTER 0|fault|GROUP G_NAT FAULT 0|GROUP G_NAT BACKUP 0|master|GROUP G_NAT MASTER 0|"
wait_until group_said "$want" || { cat "$LAB/lb1.group"; fail "lb1's group notify commands, once per group state"; }
ok "lb1's group commands ran once per group state: $want"

stop_daemon lb1 lb2
wait
