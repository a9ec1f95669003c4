#!/usr/bin/env python3
"""flowexport -i nflog:GROUP meters exactly what a firewall rule logs (ctest nflog_live).

usage: nflog_live.py FLOWEXPORT

In a private network namespace (so no rule touches the host), an nftables rule logs UDP to
127.0.0.2:9999 to NFLOG group 5 and counts it. flowexport captures nflog:5 and exports to a
UDP socket on the namespace's loopback; four datagrams are sent, then SIGTERM. The exported
packets and bytes must equal the rule's own counter, the independent truth.
Exit 0 pass, 1 fail, 77 skip (not root, no nft, or no NFLOG in this kernel).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
NS = f"nf-nflog-{os.getpid()}"


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(SKIP)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def sh(*cmd, check=True):
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r


def in_ns():
    fe = sys.argv[1]
    nft = shutil.which("nft")
    rules = """
table inet nflogtest {
  chain out {
    type filter hook output priority 0;
    ip daddr 127.0.0.2 udp dport 9999 counter log group 5
  }
}
"""
    r = subprocess.run([nft, "-f", "-"], input=rules, capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        skip(f"nft cannot load a log group rule here: {r.stderr.strip()}")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "stats.json")
        proc = subprocess.Popen([fe, "-i", "nflog:5", "-c", f"127.0.0.1:{port}",
                                 "--stats-json", stats], stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        if proc.poll() is not None:
            err = proc.stderr.read()
            if "nflog" in err and ("No such device" in err or "not supported" in err):
                skip(f"no NFLOG capture here: {err.strip()}")
            fail(f"flowexport -i nflog:5 exited {proc.returncode} at start:\n{err}")
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(4):
            tx.sendto(b"x" * (10 + 100 * i), ("127.0.0.2", 9999))
            time.sleep(0.05)
        # The kernel hands NFLOG messages over in batches, at the latest after its 1 s flush.
        time.sleep(2.5)
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            fail("flowexport did not exit within 20 s of SIGTERM")
        if proc.returncode != 0:
            fail(f"flowexport exited {proc.returncode}:\n{err}")
        with open(stats) as f:
            s = json.load(f)
    ruleset = sh(nft, "list", "table", "inet", "nflogtest").stdout
    m = re.search(r"counter packets (\d+) bytes (\d+)", ruleset)
    if not m:
        fail(f"no counter in the ruleset:\n{ruleset}")
    packets, octets = int(m.group(1)), int(m.group(2))
    if packets != 4:
        fail(f"the rule counted {packets} packets, not the 4 sent")
    got = (s["packets_seen"], s["packets_exported"], s["bytes_exported"])
    if got != (4, 4, octets):
        fail(f"flowexport saw/exported/bytes {got}, the rule counted 4 packets, {octets} bytes\n{err}")
    print(f"nflog:5: 4 packets, {octets} bytes, as the nftables counter says")


def main():
    if len(sys.argv) == 3 and sys.argv[2] == "--in-ns":
        in_ns()
        return 0
    if os.geteuid() != 0:
        skip("needs root (a network namespace and an nftables rule)")
    if shutil.which("nft") is None:
        skip("nft is not installed (scripts/setup-deps.sh installs nftables)")
    try:
        sh("ip", "netns", "add", NS)
    except RuntimeError as e:
        skip(f"cannot create a network namespace: {e}")
    try:
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        r = subprocess.run(["ip", "netns", "exec", NS, sys.executable, __file__, sys.argv[1],
                            "--in-ns"], timeout=120)
        return r.returncode
    finally:
        sh("ip", "netns", "del", NS, check=False)


if __name__ == "__main__":
    sys.exit(main())
