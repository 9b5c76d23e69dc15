# keepalived's checker reading of each file in /lab/oracle (NAME.conf, its interfaces in
# NAME.ifaces), each in a namespace of its own with its own IPVS table: the dump is printed
# between "=== BEGIN NAME" and "=== END NAME" for tests/import_oracle.rs to compare.
n=0
for conf in /lab/oracle/*.conf; do
    name=$(basename "$conf" .conf)
    ip netns add o1
    echo "=== BEGIN $name"
    ip netns exec o1 sh /lab/oracle/keepalived-dump.sh -C "$conf" $(cat "/lab/oracle/$name.ifaces")
    echo "=== END $name"
    ip netns del o1
    n=$((n + 1))
done
check_run "keepalived read $n files" test "$n" -gt 0
