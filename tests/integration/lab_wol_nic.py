#!/usr/bin/env python3
"""The Wake-on-LAN logic of a lab host's NIC (test infrastructure, never part of joule).

A real WoL NIC stays powered while its host is off and scans every Ethernet frame it receives
for the magic pattern (6 x 0xff, then its own MAC 16 times) anywhere in the frame; it does not
need an IP address. This does the same on one interface of a lab host's network namespace
(run it there with `ip netns exec`): an AF_PACKET socket sees every frame, and when one carries
the magic pattern for MAC it runs COMMAND (the lab's "power button": the same chassis script
the host's IPMI BMC runs). Frames without it, or for another MAC, are counted and ignored.

    lab_wol_nic.py IFACE MAC LOG COMMAND...

Each wake is one line in LOG: `wake mac=MAC frame_bytes=N src=SRC_MAC`.
"""
import socket
import subprocess
import sys

ETH_P_ALL = 0x0003


def main():
    if len(sys.argv) < 5:
        sys.exit("usage: lab_wol_nic.py IFACE MAC LOG COMMAND...")
    iface, mac_text, log_path, command = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    mac = bytes.fromhex(mac_text.replace(":", "").replace("-", ""))
    if len(mac) != 6:
        sys.exit("lab_wol_nic: %r is not a MAC address" % mac_text)
    magic = b"\xff" * 6 + mac * 16
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    ignored = 0
    with open(log_path, "a", buffering=1) as log:
        log.write("listening iface=%s mac=%s\n" % (iface, mac_text))
        while True:
            frame = s.recv(65536)
            if magic not in frame:
                ignored += 1
                continue
            src = ":".join("%02x" % b for b in frame[6:12])
            log.write("wake mac=%s frame_bytes=%d src=%s ignored_before=%d\n"
                      % (mac_text, len(frame), src, ignored))
            subprocess.run(command, check=False)


if __name__ == "__main__":
    main()
