"""Listens to VRRP adverts (IP protocol 112, 224.0.0.18) from one source for a while and
prints how many came and the longest gap between two, in milliseconds: "COUNT MAX_GAP_MS".

    python3 advert-gaps.py SOURCE SECONDS LOCAL_ADDRESS [READY_FILE]

READY_FILE is made once the first advert from SOURCE has come: the caller's cue to start.
"""
import socket
import struct
import sys
import time


def main():
    source, seconds, local = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    group = struct.pack("4s4s", socket.inet_aton("224.0.0.18"), socket.inet_aton(local))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group)
    # Only SOURCE's packets to the group reach this socket (a raw socket's local address and
    # peer filter what it is given; bound first, or connect would take the route's source as
    # the local address): the count and the gaps stay right under a flood from elsewhere.
    sock.bind(("224.0.0.18", 0))
    sock.connect((source, 0))
    sock.settimeout(0.05)
    end = time.monotonic() + seconds
    count, last, longest = 0, None, 0.0
    while time.monotonic() < end:
        try:
            _, (addr, _) = sock.recvfrom(2048)
        except socket.timeout:
            continue
        if addr != source:
            continue
        now = time.monotonic()
        if last is not None:
            longest = max(longest, now - last)
        elif len(sys.argv) > 4:
            open(sys.argv[4], "w").close()
        last, count = now, count + 1
    # Silence at the end counts too.
    if last is not None:
        longest = max(longest, end - last)
    print(count, int(longest * 1000))


main()
