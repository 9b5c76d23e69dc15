# haldir owns only the services of its configuration: what ipvsadm made survives every apply;
# drift made behind haldir's back is repaired within one reconcile interval; a service dropped
# from the configuration is removed, also when it was dropped while haldir was stopped.

write_config() {
    cat > /lab/haldir.toml <<TOML
[global]
state_dir = "/run/haldir"
reconcile_interval = "1s"
[ipvs]
on_stop = "$1"
[[virtual_server]]
address = "10.0.0.1:80"
scheduler = "rr"
forwarding = "dr"
[[virtual_server.real_server]]
address = "10.0.1.1:80"
weight = 5
[[virtual_server.real_server]]
address = "10.0.1.2:80"
weight = 5
TOML
    [ -n "$2" ] && cat >> /lab/haldir.toml <<TOML
[[virtual_server]]
address = "10.0.0.1:443"
scheduler = "wlc"
forwarding = "dr"
[[virtual_server.real_server]]
address = "10.0.1.1:443"
TOML
    [ -n "$3" ] && cat >> /lab/haldir.toml <<TOML
[[virtual_server]]
address = "10.0.0.1:8080"
scheduler = "lc"
forwarding = "nat"
[[virtual_server.real_server]]
address = "10.0.1.3:80"
TOML
    true
}


has_line() { ipvsadm-save -n | grep -qx -- "$1"; }
lacks_line() { ! ipvsadm-save -n | grep -q -- "$1"; }

say "a service made with ipvsadm survives apply"
ipvsadm -A -t 10.0.0.99:80 -s rr
ipvsadm -a -t 10.0.0.99:80 -r 10.0.9.9:80 -g
write_config keep with-443 with-8080
check_status "apply" 0 haldir apply -c /lab/haldir.toml
check_run "the foreign service is still there" has_line "-a -t 10.0.0.99:80 -r 10.0.9.9:80 -g -w 1"
check_status "plan: nothing to do" 0 haldir plan -c /lab/haldir.toml

say "haldir run repairs drift within one reconcile interval"
drift() {
    ipvsadm -d -t 10.0.0.1:80 -r 10.0.1.2:80
    ipvsadm -e -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1
    ipvsadm -E -t 10.0.0.1:443 -s rr
}
drift
check_status "plan sees the drift" 2 haldir plan -c /lab/haldir.toml
haldir run -c /lab/haldir.toml 2>/tmp/run.log &
pid=$!
check_within "the start repairs it" 3 has_line "-a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 5"
drift
check_within "the deleted real server is back" 3 has_line "-a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 5"
check_within "the weight is restored" 3 has_line "-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 5"
check_within "the scheduler is restored" 3 has_line "-A -t 10.0.0.1:443 -s wlc"
check_run "the foreign service was not touched" has_line "-A -t 10.0.0.99:80 -s rr"
grep -q "edit real server 10.0.1.1:80\|real server 10.0.1.1:80 of TCP 10.0.0.1:80: weight 1 → 5" /tmp/run.log \
    && ok "the weight change was an edit" || { cat /tmp/run.log; fail "the weight change was an edit"; }

say "a service dropped from the config is removed on reload"
write_config keep "" with-8080
kill -HUP $pid
check_within "TCP 10.0.0.1:443 is gone" 3 lacks_line "10.0.0.1:443"
check_run "the foreign service is still there" has_line "-A -t 10.0.0.99:80 -s rr"

say "a clean stop with on_stop = keep leaves the services"
kill -TERM $pid
wait $pid
check_eq "haldir exits 0" 0 $?
check_run "services stay" has_line "-A -t 10.0.0.1:8080 -s lc"

say "a service dropped while haldir was stopped is removed at start"
write_config remove
haldir run -c /lab/haldir.toml 2>>/tmp/run.log &
pid=$!
check_within "TCP 10.0.0.1:8080 is gone" 5 lacks_line "10.0.0.1:8080"
check_run "the foreign service is still there" has_line "-A -t 10.0.0.99:80 -s rr"

say "on_stop = remove takes haldir's services away, and only those"
kill -TERM $pid
wait $pid
check_eq "haldir exits 0" 0 $?
check_eq "only the foreign service remains" \
    "-A -t 10.0.0.99:80 -s rr
-a -t 10.0.0.99:80 -r 10.0.9.9:80 -g -w 1" "$(ipvsadm-save -n)"
