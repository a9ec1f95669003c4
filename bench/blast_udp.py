#!/usr/bin/env python3
"""Sends UDP payloads (hex, one per line, as `tshark -T fields -e udp.payload` prints them) to
127.0.0.1:PORT as fast as one Python thread can, PASSES times over. Loopback only; bounded by
the input size times PASSES. Used by collect_bench.sh -S to saturate a receiver.
usage: blast_udp.py PAYLOADS.hex PORT PASSES"""
import socket
import sys

path, port, passes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
payloads = [bytes.fromhex(line.strip().replace(':', '')) for line in open(path) if line.strip()]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(('127.0.0.1', port))
sent = 0
for _ in range(passes):
    for p in payloads:
        try:
            s.send(p)
            sent += 1
        except OSError:  # ECONNREFUSED from an earlier ICMP: the receiver is gone
            pass
print(sent)
