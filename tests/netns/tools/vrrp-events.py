"""Prints, one line each as they pass an interface, the VRRP adverts and the gratuitous ARPs
for one address: "advert SOURCE_IP PRIORITY" and "garp SENDER_MAC". Runs until killed.

    python3 vrrp-events.py INTERFACE ADDRESS READY_FILE

READY_FILE is made once the capture is open: the caller's cue to go on.
"""
import socket
import sys


def main():
    ifname, address, ready = sys.argv[1], socket.inet_aton(sys.argv[2]), sys.argv[3]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.bind((ifname, 0))
    open(ready, "w").close()
    while True:
        frame = sock.recv(2048)
        ethertype = frame[12:14]
        if ethertype == b"\x08\x06" and frame[28:32] == address and frame[38:42] == address:
            mac = ":".join("%02x" % b for b in frame[22:28])
            print("garp", mac, flush=True)
        elif ethertype == b"\x08\x00" and frame[23] == 112:
            ihl = (frame[14] & 0x0F) * 4
            vrrp = frame[14 + ihl:]
            print("advert", socket.inet_ntoa(frame[26:30]), vrrp[2], flush=True)


main()
