#!/usr/bin/env python3
"""Prints SHA-256 digests of what the tools produce from fixed inputs, so a refactor can show
it changed no output: run it before and after, and compare.

usage: scripts/output-hashes.py [BUILD_DIR]   (default: build)

For pcaps/demo.pcap and a trafgen capture (nf-trafgen -n 200000 -f 20000 -s 11 --vlan-ratio 0.2)
and each export version (v9, IPFIX, v5), it hashes:
  - the datagrams `flowexport -r CAPTURE` sends (each prefixed by its 4-byte length), and
  - the CSV `flowcollect -r` writes from a capture of those datagrams (written here with fixed
    timestamps and addresses), raw and with -A src_addr,dst_port.
"""
import hashlib
import os
import socket
import struct
import subprocess
import sys
import tempfile


def find(build, name):
    for root, _dirs, files in os.walk(build):
        if name in files and os.access(os.path.join(root, name), os.X_OK):
            return os.path.join(root, name)
    sys.exit(f"output-hashes: no {name} under {build}: build first")


def export(fe, capture, version):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]
    rx.settimeout(0)
    # Paced so the receive buffer never overflows: every datagram is hashed.
    proc = subprocess.Popen([fe, "-r", capture, "-c", f"127.0.0.1:{port}", "-v", str(version),
                             "--max-export-rate", "5000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    datagrams = []

    def drain():
        while True:
            try:
                datagrams.append(rx.recv(65536))
            except BlockingIOError:
                return

    while proc.poll() is None:
        drain()
    drain()
    if proc.returncode != 0:
        sys.exit(f"output-hashes: flowexport exited {proc.returncode}: {proc.stderr.read()}")
    rx.close()
    return datagrams


def udp_pcap(datagrams, path):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, d in enumerate(datagrams):
            udp = struct.pack("!HHHH", 40000, 2055, 8 + len(d), 0) + d
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                             bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])) + udp
            frame = b"\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x01\x08\x00" + ip
            sec, usec = 1_700_000_000 + i // 1000, (i % 1000) * 1000
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)


def digest(chunks):
    h = hashlib.sha256()
    for c in chunks:
        h.update(struct.pack("!I", len(c)) + c)
    return h.hexdigest()


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    fe, fc, tg = find(build, "flowexport"), find(build, "flowcollect"), find(build, "nf-trafgen")
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as d:
        trafgen = os.path.join(d, "trafgen.pcap")
        subprocess.run([tg, "-o", trafgen, "-n", "200000", "-f", "20000", "-s", "11",
                        "--vlan-ratio", "0.2", "-q"], check=True, capture_output=True)
        for name, capture in (("demo", os.path.join(src, "pcaps", "demo.pcap")),
                              ("trafgen", trafgen)):
            for version in (9, 10, 5):
                datagrams = export(fe, capture, version)
                print(f"{name} v{version} flowexport datagrams ({len(datagrams)}): "
                      f"{digest(datagrams)}")
                export_pcap = os.path.join(d, "export.pcap")
                udp_pcap(datagrams, export_pcap)
                for label, extra in (("csv", []), ("-A", ["-A", "src_addr,dst_port"])):
                    r = subprocess.run([fc, "-r", export_pcap, "-q"] + extra, capture_output=True,
                                       check=True)
                    lines = r.stdout.count(b"\n")
                    print(f"{name} v{version} flowcollect {label} ({lines} lines): "
                          f"{hashlib.sha256(r.stdout).hexdigest()}")


if __name__ == "__main__":
    main()
