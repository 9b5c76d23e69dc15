#!/bin/sh
# keepalived-dump.sh MODE CONF [IFACE...]: keepalived's own reading of CONF. In the current
# network and mount namespaces (fresh ones: the caller's), makes each IFACE (with an address)
# each script of $KA_SCRIPTS that is missing here (a stub that exits 0, in a tmpfs over the
# nearest directory that is no system one; in the lab VM, whose files are its own, written
# in place), and each user of $KA_USERS (the script users the file names, which exist on the director it
# was written for: bind-mounted copies of /etc/passwd and /etc/group hold them), names the
# current network namespace $KA_NETNS (the net_namespace the file enters, on a tmpfs over
# /run/netns), runs
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
mounted=""
if [ -n "$KA_NETNS" ]; then
    mkdir -p /run/netns
    mount -t tmpfs -o mode=755 tmpfs /run/netns
    touch "/run/netns/$KA_NETNS"
    mount --bind /proc/self/ns/net "/run/netns/$KA_NETNS"
fi
for s in $KA_SCRIPTS; do
    [ -e "$s" ] && continue
    d=$(dirname "$s")
    if [ -z "$KA_SCRATCH_FS" ]; then
        # The tmpfs goes over the nearest directory that is no system one: a new directory
        # (made empty in the system one, as /etc/keepalived), or an existing one of no use
        # to keepalived here (/usr/local/bin).
        a=$d
        while [ ! -d "$a" ]; do a=$(dirname "$a"); done
        system() {
            # The file's own directory and those above it (a script beside it, ${_PWD}/…).
            case "$(dirname "$conf")/" in "${1%/}"/*) return 0 ;; esac
            case "$1" in
            / | /usr | /usr/bin | /usr/sbin | /usr/lib | /usr/lib/* | /usr/lib64 | /usr/share | /bin | /sbin | /lib | /lib64 | /etc | /tmp | /var | /proc | /sys | /dev | /run) return 0 ;;
            esac
            return 1
        }
        if system "$a"; then
            # Not in the system directory itself, nor a new directory at the root.
            [ "$a" = "$d" ] || [ "$a" = / ] && continue
            rest=${d#"$a"}
            rest=${rest#/}
            a="${a%/}/${rest%%/*}"
            mkdir -p "$a" || continue
        fi
        # Once: a second mount over a directory made on the first would hide its stubs.
        under=""
        for m in $mounted; do
            case "$a/" in "$m"/*) under=1 ;; esac
        done
        if [ -z "$under" ]; then
            mount -t tmpfs -o mode=755 tmpfs "$a" && mounted="$mounted $a"
        fi
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
