# Alerts by mail against a real SMTP server (aiosmtpd, Debian's python3-aiosmtpd, storing every
# message it accepts in a maildir): two haldir directors mail their VRRP transitions as
# keepalived does (keepalived/vrrp/vrrp_notify.c: "[router_id] VRRP Instance NAME - Entering
# MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="), the sync group's too; an
# instance whose smtp_alert is off mails nothing; a dead mail server costs nothing but a
# counted failure — VRRP goes on. A bare local name ("root") is sent as written, as keepalived
# sends it.

bridge br0
for ns in lb1 lb2 mail; do netns $ns; done
attach lb1 br0 eth0 10.0.0.11/24
attach lb2 br0 eth0 10.0.0.12/24
attach mail br0 eth0 10.0.0.25/24
spawn_at mail "$LAB/smtpd.pid" /usr/bin/python3 -m aiosmtpd -n -l 10.0.0.25:2525 \
    -c aiosmtpd.handlers.Mailbox "$LAB/maildir" >"$LAB/smtpd.log" 2>&1
smtp_up() { echo QUIT | at lb1 busybox nc -w 1 10.0.0.25 2525 | grep -q '^220 '; }
wait_until smtp_up || fail "aiosmtpd listens"

director() { # NAME PRIORITY SMTP_SERVER
    cat > "$LAB/$1.toml" <<TOML
[global]
router_id = "$1"
state_dir = "$LAB/state-$1"
metrics_listen = "127.0.0.1:9474"
[email]
to = ["ops@example.com", "root"]
from = "haldir@$1.example.com"
smtp_server = "$3"
smtp_helo_name = "$1.example.com"
smtp_connect_timeout = "2s"
vrrp = true
$(vrrp_instance priority=$2)
$(vrrp_instance priority=$2 name=VI_QUIET vrid=52 vip=10.0.0.101/32)
smtp_alert = false
$(vrrp_instance priority=$2 name=VI_GW vrid=53 vip=10.0.0.102/32)
smtp_alert = false
[[vrrp_sync_group]]
name = "G1"
instances = ["VI_GW"]
TOML
}

start() { start_haldir "$1"; }
mails() { cat "$LAB"/maildir/new/* 2>/dev/null; }
# mail_with SUBJECT: the message with that subject, headers and body.
mail_with() { for f in "$LAB"/maildir/new/*; do grep -q "^Subject: $1\$" "$f" && cat "$f"; done; }
has_mail() { [ -n "$(mail_with "$1")" ]; }
count_subject() { mails | grep -c "^Subject: $1\$"; }
show() { for ns in lb1 lb2; do echo "== $ns"; cat "$LAB/$ns.log"; done; ls -l "$LAB/maildir/new"; }

director lb1 150 10.0.0.25:2525
director lb2 100 10.0.0.25:2525
start lb1
start lb2

master="[lb1] VRRP Instance VI_1 - Entering MASTER state"
wait_until has_mail "$(echo "$master" | sed 's/[][]/\\&/g')" || { show; fail "lb1 mails its MASTER transition"; }
ok "lb1 mailed: $master"
m=$(mail_with "$(echo "$master" | sed 's/[][]/\\&/g')")
check_run "From is notification_email_from" grep -qx "From: haldir@lb1.example.com" <<EOF2
$(echo "$m" | tr -d '\r')
EOF2
check_eq "To lists every recipient" "To: ops@example.com, root" "$(echo "$m" | tr -d '\r' | grep '^To:')"
# A bare local name goes out as written (keepalived/core/smtp.c: "RCPT TO:<%s>").
check_eq "the envelope's recipients, the bare name as written" "X-RcptTo: ops@example.com, root" "$(echo "$m" | tr -d '\r' | grep '^X-RcptTo:')"
check_eq "the envelope's sender" "X-MailFrom: haldir@lb1.example.com" "$(echo "$m" | tr -d '\r' | grep '^X-MailFrom:')"
check_eq "X-Mailer" "X-Mailer: haldir" "$(echo "$m" | tr -d '\r' | grep '^X-Mailer:')"
check_run "a Date header" grep -q "^Date: " <<EOF2
$m
EOF2
check_eq "keepalived's body" "=> VRRP Instance is now owning VRRP VIPs <=" "$(echo "$m" | tr -d '\r' | grep '^=>')"

backup="\[lb2\] VRRP Instance VI_1 - Entering BACKUP state"
wait_until has_mail "$backup" || { show; fail "lb2 mails its BACKUP state"; }
ok "lb2 mailed its BACKUP state"
check_eq "lb2's BACKUP body" "=> VRRP Instance is no longer owning VRRP VIPs <=" "$(mail_with "$backup" | tr -d '\r' | grep '^=>')"
wait_until has_mail "\[lb1\] VRRP Group G1 - Entering MASTER state" || { show; fail "the sync group's transition is mailed"; }
check_eq "the group's body" "=> All VRRP group instances are now in MASTER state <=" \
    "$(mail_with "\[lb1\] VRRP Group G1 - Entering MASTER state" | tr -d '\r' | grep '^=>')"
check_eq "no mail for the instances whose smtp_alert is off" 0 "$(mails | grep -c 'VI_QUIET\|VRRP Instance VI_GW')"
# Every instance starts as BACKUP and says so, as keepalived does (its last_email_state starts
# unset): lb1 mailed BACKUP then MASTER for VI_1 and for G1.
check_eq "lb1 counted its four mails sent" 4 "$(metric lb1 'haldir_email_alerts_total{result="sent"}')"
check_eq "lb1's mails, in order of subject" "[lb1] VRRP Group G1 - Entering BACKUP state
[lb1] VRRP Group G1 - Entering MASTER state
[lb1] VRRP Instance VI_1 - Entering BACKUP state
[lb1] VRRP Instance VI_1 - Entering MASTER state" "$(mails | grep '^Subject: \[lb1\]' | sed 's/^Subject: //' | tr -d '\r' | sort)"

say "the master dies: the backup's takeover is mailed"
crash_daemon lb1
wait_until has_mail "\[lb2\] VRRP Instance VI_1 - Entering MASTER state" || { show; fail "lb2 mails its takeover"; }
ok "lb2 mailed its takeover"
check_eq "one MASTER mail from lb1, one from lb2" "1 1" \
    "$(count_subject "\[lb1\] VRRP Instance VI_1 - Entering MASTER state") $(count_subject "\[lb2\] VRRP Instance VI_1 - Entering MASTER state")"

say "a dead mail server: the failure is counted, VRRP goes on"
director lb1 150 10.0.0.25:2626
start lb1
wait_until has_vip lb1 || { show; fail "lb1 preempts with its mail server unreachable"; }
ok "lb1 preempted though its mail server refuses"
failed() { [ "$(metric lb1 'haldir_email_alerts_total{result="failed"}')" -ge 2 ]; }
wait_until failed || { show; fail "the failed sends are counted"; }
ok "failed sends counted: $(metric lb1 'haldir_email_alerts_total{result="failed"}')"
check_run "the failure is logged with its subject" grep -q "cannot mail the alert" "$LAB/lb1.log"
kill "$(cat "$LAB/smtpd.pid")"
stop_daemon lb1 lb2
wait
