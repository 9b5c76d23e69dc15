# Helpers for lab scenarios (busybox sh). A failed check prints "not ok" and exits 1.

# busybox's shell prefers its own applets over PATH: name the real tools explicitly.
ip() { /usr/sbin/ip "$@"; }
nft() { /usr/sbin/nft "$@"; }

say() { echo "## $*"; }

fail() {
    echo "not ok - $*"
    exit 1
}

ok() { echo "ok - $*"; }

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        echo "--- expected"; echo "$2"; echo "--- actual"; echo "$3"; echo "---"
        fail "$1"
    fi
}

# check_run DESCRIPTION COMMAND...: the command must succeed; its output is shown on failure.
check_run() {
    local what=$1
    shift
    if out=$("$@" 2>&1); then
        ok "$what"
    else
        echo "$out"
        fail "$what (exit $?)"
    fi
}

# check_status DESCRIPTION EXPECTED_STATUS COMMAND...
check_status() {
    local what=$1 want=$2
    shift 2
    out=$("$@" 2>&1)
    local got=$?
    [ "$got" = "$want" ] || { echo "$out"; fail "$what: exit $got, expected $want"; }
    ok "$what"
}

# The kernel's IPVS table as ipvsadm-save -n prints it, sorted: the independent witness.
ipvs_saved() { ipvsadm-save -n | sort; }

# netns NAME: a namespace with lo up.
netns() {
    ip netns add "$1"
    ip -n "$1" link set lo up
}

# at NS COMMAND...: run a command inside a namespace.
at() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}
