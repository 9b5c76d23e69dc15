#!/bin/sh
# keepalived-dump.sh MODE CONF [IFACE...]: keepalived's own reading of CONF. In the current
# network and mount namespaces (fresh ones: the caller's), makes each IFACE (with an address)
# each script of $KA_SCRIPTS that is missing here (a stub that exits 0, in a tmpfs over the
# nearest directory that is no system one; in the lab VM, whose files are its own, written
# in place), and each user of $KA_USERS (the script users the file names, which exist on the director it
# was written for: bind-mounted copies of /etc/passwd and /etc/group hold them), runs
# keepalived with -d and MODE (-P for the VRRP process, -C for the checker) as config id lb1,
# and prints its log once the process has dumped its configuration and stopped. keepalived's
# processes take signals only from their event loop, which starts after the dump: a SIGTERM
# sent once the dump has begun lets it finish.
mode=$1
conf=$2
shift 2
IP=/usr/sbin/ip
$IP link set lo up
k=0
for i in "$@"; do
    k=$((k + 1))
    $IP link add "$i" type dummy 2>/dev/null || $IP link add "$i" type veth peer name "kp$k" 2>/dev/null
    $IP link set "$i" up 2>/dev/null
    $IP addr add "10.255.$k.1/24" dev "$i" 2>/dev/null
done
dir=$(mktemp -d)
for s in $KA_SCRIPTS; do
    [ -e "$s" ] && continue
    d=$(dirname "$s")
    if [ -z "$KA_SCRATCH_FS" ]; then
        a=$d
        while [ ! -d "$a" ]; do a=$(dirname "$a"); done
        case "$a" in
        / | /usr | /usr/* | /bin | /sbin | /lib | /lib64 | /etc | /tmp | /var | /proc | /sys | /dev | /run) continue ;;
        esac
        grep -q " $a tmpfs " /proc/self/mounts || mount -t tmpfs -o mode=755 tmpfs "$a"
    fi
    mkdir -p "$d" && printf '#!/bin/sh\nexit 0\n' > "$s" && chmod 755 "$s"
done
if [ -n "$KA_USERS" ]; then
    touch /etc/passwd /etc/group 2>/dev/null
    cp /etc/passwd "$dir/passwd"
    cp /etc/group "$dir/group"
    id=60000
    for u in $KA_USERS; do
        grep -q "^$u:" "$dir/passwd" || echo "$u:x:$id:$id::/nonexistent:/bin/false" >> "$dir/passwd"
        grep -q "^$u:" "$dir/group" || echo "$u:x:$id:" >> "$dir/group"
        id=$((id + 1))
    done
    mount --bind "$dir/passwd" /etc/passwd
    mount --bind "$dir/group" /etc/group
fi
TMPDIR=$dir keepalived -n -l -d "$mode" -i lb1 -f "$conf" -p "$dir/m.pid" -r "$dir/v.pid" \
    -c "$dir/c.pid" -b "$dir/b.pid" > "$dir/log" 2>&1 &
pid=$!
n=0
while ! grep -q -e '------< ' "$dir/log" && kill -0 "$pid" 2>/dev/null && [ $n -lt 200 ]; do
    sleep 0.05
    n=$((n + 1))
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
cat "$dir/log"
rm -rf "$dir"
