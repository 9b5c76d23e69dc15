# The two-director fwmark cluster of fwmark-cluster.sh with the iptables backend.
BACKEND=iptables
. /lab/fwmark-cluster.sh
