# Resources: 1,000 reloads (a real server added and removed, weights changed) leave the
# daemon's file descriptors, threads, runtime tasks and memory flat; and the memory of a
# director with 10,000 real servers, reported.

bridge br0
for ns in dir rs1 rs2; do netns $ns; done
attach dir br0 eth0 10.0.0.1/24
for i in 1 2; do
    attach rs$i br0 eth0 10.0.0.1$i/24
    serve rs$i 80 rs$i
done

config() { # EXTRA_SERVER(yes|no) WEIGHT
    {
        cat <<TOML
[global]
state_dir = "/run/haldir-dir"
metrics_listen = "127.0.0.1:9474"
[[virtual_server]]
name = "web"
address = "10.0.0.100:80"
scheduler = "wrr"
forwarding = "dr"
check = { type = "http", path = "/", interval = "1s", timeout = "1s" }
[[virtual_server.real_server]]
address = "10.0.0.11:80"
weight = $2
[[virtual_server.real_server]]
address = "10.0.0.12:80"
TOML
        [ "$1" = yes ] && printf '[[virtual_server.real_server]]\naddress = "10.0.0.13:80"\ncheck = { type = "tcp", interval = "1s", timeout = "1s" }\n'
    } > /lab/haldir.toml.new
    mv /lab/haldir.toml.new /lab/haldir.toml
}
H="haldir -c /lab/haldir.toml"
pid() { cat /tmp/haldir.pid; }
# The fewest of five looks 200 ms apart: a probe's socket open at the instant of one look is
# not a leak; a leaked descriptor is there at every look.
fds() {
    local i=0 n min=999999
    while [ $i -lt 5 ]; do
        n=$(ls /proc/"$(pid)"/fd | wc -l)
        [ "$n" -lt "$min" ] && min=$n
        sleep 0.2
        i=$((i + 1))
    done
    echo $min
}
threads() { awk '/^Threads/ {print $2}' /proc/"$(pid)"/status; }
rss_kib() { awk '/^VmRSS/ {print $2}' /proc/"$(pid)"/status; }
tasks() { at dir curl -s 127.0.0.1:9474/metrics | awk '$1 == "haldir_runtime_tasks" {print $2}'; }
sample() { echo "fds $(fds) threads $(threads) tasks $(tasks) rss $(rss_kib)"; }

config no 1
spawn_at dir /tmp/haldir.pid haldir run -c /lab/haldir.toml 2>/tmp/haldir.log
wait_until sh -c "/usr/sbin/ip netns exec dir curl -s 127.0.0.1:9474/metrics | grep -q haldir_runtime_tasks" \
    || { cat /tmp/haldir.log; fail "haldir starts"; }

reloads() { # COUNT
    local i=0
    while [ $i -lt "$1" ]; do
        case $((i % 2)) in
            0) config yes 2 ;;
            1) config no 1 ;;
        esac
        $H reload > /dev/null 2>&1 || { $H reload; fail "reload $i"; }
        i=$((i + 1))
    done
}

say "1,000 reloads"
reloads 100
sleep 2
warm=$(sample)
echo "after 100 reloads:   $warm"
reloads 900
sleep 2
after=$(sample)
echo "after 1,000 reloads: $after"
field() { echo "$1" | awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }
for k in fds threads tasks; do
    check_eq "$k flat from reload 100 to 1,000" "$(field "$warm" $k)" "$(field "$after" $k)"
done
grow=$(( $(field "$after" rss) - $(field "$warm" rss) ))
[ "$grow" -le 1024 ] || fail "memory grew by $grow KiB over 900 reloads"
ok "memory flat: $(field "$warm" rss) KiB → $(field "$after" rss) KiB ($grow KiB over 900 reloads)"
kill -TERM "$(pid)"
wait_until sh -c "! kill -0 $(pid) 2>/dev/null"
at dir ipvsadm -C # on_stop = "keep" left the first service

say "10,000 real servers"
{
    echo '[global]'; echo 'state_dir = "/run/haldir-big"'; echo 'metrics_listen = "127.0.0.1:9474"'
    v=0
    while [ $v -lt 100 ]; do
        echo '[[virtual_server]]'; echo "address = \"10.1.$v.1:80\""; echo 'scheduler = "wlc"'; echo 'forwarding = "dr"'
        r=0
        while [ $r -lt 100 ]; do
            echo '[[virtual_server.real_server]]'; echo "address = \"10.2.$v.$((r + 2)):80\""
            r=$((r + 1))
        done
        v=$((v + 1))
    done
} > /lab/big.toml
spawn_at dir /tmp/haldir.pid haldir run -c /lab/big.toml 2>/tmp/big.log
all_in() { [ "$(at dir ipvsadm -Ln | grep -c -- '-> 10\.2\..*Route')" = 10000 ]; }
t=$(until_ms 120000 all_in) || { tail /tmp/big.log; fail "10,000 real servers programmed"; }
sleep 2
ok "10,000 real servers in IPVS after $t ms; haldir RSS $(rss_kib) KiB, $(threads) threads, $(fds) fds"
kill -TERM "$(pid)"
