# keepalived's own reading of each file in /lab/oracle (NAME.conf, its interfaces in
# NAME.ifaces, its script users in NAME.users, the namespace it enters in NAME.netns,
# the scripts it runs in NAME.scripts), each in a namespace of its own with its own IPVS table: the checker's dump
# (-C) of each file, and the VRRP process's (-P) of those marked NAME.vrrp (their sync daemon
# needs IPVS), printed between "=== BEGIN MODE NAME" and "=== END" for tests/import_oracle.rs.
n=0
for conf in /lab/oracle/*.conf; do
    name=$(basename "$conf" .conf)
    modes=""
    [ -e "/lab/oracle/$name.check" ] && modes="-C"
    [ -e "/lab/oracle/$name.vrrp" ] && modes="$modes -P"
    for mode in $modes; do
        ip netns add o1
        echo "=== BEGIN $mode $name"
        KA_USERS=$(cat "/lab/oracle/$name.users") KA_SCRIPTS=$(cat "/lab/oracle/$name.scripts") \
            KA_NETNS=$(cat "/lab/oracle/$name.netns") KA_SCRATCH_FS=1 ip netns exec o1 sh /lab/oracle/keepalived-dump.sh "$mode" "$conf" $(cat "/lab/oracle/$name.ifaces")
        echo "=== END"
        ip netns del o1
        n=$((n + 1))
    done
done
check_run "keepalived read $n files" test "$n" -gt 0
