#!/usr/bin/env python3
"""Keeps the man pages, help and packaging true to the binaries (ctest label `docs`).

usage: check_docs.py CHECK SOURCE_DIR FLOWEXPORT FLOWCOLLECT
CHECK is one of: render, options, examples, units. Exit 0 pass, 1 fail, 77 skip.
"""
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
TIMEOUT = 20  # every child process is bounded


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd, **kw):
    kw.setdefault("timeout", TIMEOUT)
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def check_render(src, _fe, _fc):
    """Both pages render with no warnings from groff (-ww) and from man -l."""
    if not shutil.which("groff") or not shutil.which("man"):
        print("SKIP: groff/man not installed (scripts/setup-deps.sh installs man-db groff-base)")
        sys.exit(SKIP)
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80", MAN_DISABLE_SECCOMP="1")
    for page in ("flowexport.1", "flowcollect.1"):
        path = os.path.join(src, "docs", "man", page)
        r = run(["groff", "-mandoc", "-Tutf8", "-ww", "-z", path], env=env)
        if r.returncode != 0 or r.stderr.strip():
            fail(f"groff warns on {page}:\n{r.stderr}")
        r = run(["man", "--warnings", "-E", "UTF-8", "-l", path], env=env)
        if r.returncode != 0 or r.stderr.strip():
            fail(f"man -l warns on {page} (rc {r.returncode}):\n{r.stderr}")
        name = page.split(".")[0]
        if name.upper() not in r.stdout or "EXAMPLES" not in r.stdout:
            fail(f"man -l {page}: rendered page lacks its title or EXAMPLES")
        print(f"{page}: renders cleanly ({len(r.stdout.splitlines())} lines)")


HELP_OPT = re.compile(r"^\s{2,}((?:-\w,)?--[\w-]+|-\w)\b")


def help_options(binary):
    r = run([binary, "--help"])
    if r.returncode != 0:
        fail(f"{binary} --help exited {r.returncode}")
    opts = set()
    for line in r.stdout.splitlines():
        m = HELP_OPT.match(line)
        if m:
            opts.update(m.group(1).split(","))
    if len(opts) < 5:
        fail(f"parsed only {sorted(opts)} from {binary} --help")
    return opts


def man_options(page):
    """Options documented as list items: `.It Fl r , Fl -read Ar file` -> -r, --read."""
    opts = set()
    for line in open(page, encoding="utf-8"):
        if line.startswith(".It ") and " Fl " in " " + line[4:]:
            for word in re.findall(r"\bFl (\S+)", line):
                opts.add("-" + word)
    return opts


def man_columns(page):
    text = open(page, encoding="utf-8").read()
    sect = text.split(".Sh CSV COLUMNS", 1)[1].split(".Sh ", 1)[0]
    return re.findall(r"^\.It Cm (\S+)$", sect, re.M)


def check_options(src, fe, fc):
    """Every option --help prints is documented, and the page documents no other option."""
    bad = []
    for binary, page in ((fe, "flowexport.1"), (fc, "flowcollect.1")):
        want = help_options(binary)
        have = man_options(os.path.join(src, "docs", "man", page))
        for o in sorted(want - have):
            bad.append(f"{page}: missing {o} (printed by --help)")
        for o in sorted(have - want):
            bad.append(f"{page}: documents {o}, which --help does not print")
        print(f"{page}: {len(want & have)} options match --help")
    r = run([fc, "--list-columns"])
    if r.returncode != 0:
        fail("flowcollect --list-columns failed")
    cols = [l.split()[0] for l in r.stdout.splitlines() if l.strip()]
    man_cols = man_columns(os.path.join(src, "docs", "man", "flowcollect.1"))
    if cols != man_cols:
        bad.append(f"flowcollect.1 CSV COLUMNS {man_cols} != --list-columns {cols}")
    if bad:
        fail("\n".join(bad))
    print(f"flowcollect.1: {len(cols)} CSV columns match --list-columns")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check_examples(src, fe, fc):
    """The documented examples that need no network run as written (loopback only)."""
    # 1. ng_netflow bootstrap: prints a script, touches nothing.
    r = run([fe, "--ng-netflow", "-i", "igb0", "-c", "10.0.0.5:1234", "--emit", "bootstrap"])
    if r.returncode != 0 or "ngctl" not in r.stdout or "10.0.0.5" not in r.stdout:
        fail(f"ng_netflow bootstrap example: rc {r.returncode}\n{r.stdout[:400]}{r.stderr}")
    print(f"ng_netflow bootstrap: {len(r.stdout.splitlines())}-line script")

    # 2. flowexport -r trace.pcap -c 127.0.0.1:PORT into a socket we hold.
    demo = os.path.join(src, "pcaps", "demo.pcap")
    if not os.path.exists(demo):
        fail(f"{demo} missing")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    port = sock.getsockname()[1]
    r = run([fe, "-r", demo, "-c", f"127.0.0.1:{port}"])
    if r.returncode != 0:
        fail(f"flowexport -r demo.pcap exited {r.returncode}: {r.stderr}")
    sock.setblocking(False)
    datagrams = 0
    for _ in range(1_000_000):  # bounded drain
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            break
        if len(data) >= 2 and data[:2] == b"\x00\x09":
            datagrams += 1
    sock.close()
    if datagrams == 0:
        fail("flowexport -r demo.pcap -c 127.0.0.1:PORT sent no NetFlow v9 datagram")
    print(f"flowexport -r: {datagrams} v9 datagrams received on 127.0.0.1:{port}")

    # 3. flowcollect -l PORT -A src_addr -t 300 --top 10, fed by flowexport, stopped by SIGTERM
    #    (which must flush the aggregates).
    port = free_udp_port()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.csv")
        coll = subprocess.Popen([fc, "-l", f"127.0.0.1:{port}", "-A", "src_addr", "-t", "300",
                                 "--top", "10", "-o", out, "-q"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # Wait (bounded) until the collector's socket is bound.
            for _ in range(200):
                if coll.poll() is not None:
                    break
                probe = run(["ss", "-Hulpn", f"sport = :{port}"]) if shutil.which("ss") else None
                if probe is None or probe.stdout.strip():
                    break
                time.sleep(0.05)
            r = run([fe, "-r", demo, "-c", f"127.0.0.1:{port}"])
            if r.returncode != 0:
                fail(f"flowexport into flowcollect exited {r.returncode}: {r.stderr}")
            coll.send_signal(signal.SIGTERM)
            _, err = coll.communicate(timeout=TIMEOUT)
        finally:
            if coll.poll() is None:
                coll.kill()
                coll.wait()
        if coll.returncode != 0:
            fail(f"flowcollect exited {coll.returncode} after SIGTERM: {err}")
        rows = open(out, encoding="utf-8").read().splitlines()
        if not rows or rows[0] != "bin_start,src_addr,flows,packets,bytes":
            fail(f"flowcollect -A src_addr -t 300 header: {rows[:1]}")
        per_bin = {}
        for row in rows[1:]:
            per_bin[row.split(",")[0]] = per_bin.get(row.split(",")[0], 0) + 1
        if not per_bin or max(per_bin.values()) > 10:
            fail(f"--top 10: groups per bin {per_bin}")
        print(f"flowcollect -A src_addr -t 300 --top 10: {len(rows) - 1} rows in "
              f"{len(per_bin)} bins")


def check_units(src, fe, fc):
    """systemd-analyze verify accepts both units (binaries pointed at the build tree)."""
    sa = shutil.which("systemd-analyze")
    if not sa:
        print("SKIP: systemd-analyze not installed")
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory() as tmp:
        bindir = os.path.join(tmp, "bin")
        os.mkdir(bindir)
        os.symlink(os.path.abspath(fe), os.path.join(bindir, "flowexport"))
        os.symlink(os.path.abspath(fc), os.path.join(bindir, "flowcollect"))
        units = []
        for unit in ("flowexport@.service", "flowcollect.service"):
            text = open(os.path.join(src, "packaging", "systemd", unit), encoding="utf-8").read()
            if "@NF_UNIT_BINDIR@" not in text:
                fail(f"{unit}: ExecStart does not use @NF_UNIT_BINDIR@")
            dst = os.path.join(tmp, unit)
            with open(dst, "w", encoding="utf-8") as f:
                f.write(text.replace("@NF_UNIT_BINDIR@", bindir))
            units.append(dst)
        r = run([sa, "verify", "--man=no"] + units)
        if r.returncode != 0 and ("Failed to" in r.stderr and "bus" in r.stderr.lower()):
            print(f"SKIP: systemd-analyze cannot run here: {r.stderr.strip()}")
            sys.exit(SKIP)
        # Output lines about other units on this machine are not ours.
        ours = [l for l in r.stderr.splitlines() if "flowexport" in l or "flowcollect" in l]
        if r.returncode != 0 or ours:
            fail(f"systemd-analyze verify (rc {r.returncode}):\n{r.stderr}")
        print("systemd-analyze verify: both units clean")
        text = open(units[0], encoding="utf-8").read()
        for need in ("CapabilityBoundingSet=CAP_NET_RAW", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "EnvironmentFile=/etc/default/flowexport-%i"):
            if need not in text:
                fail(f"flowexport@.service lacks {need}")
        text = open(units[1], encoding="utf-8").read()
        for need in ("StateDirectory=flowcollect", "CapabilityBoundingSet=\n",
                     "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes"):
            if need not in text:
                fail(f"flowcollect.service lacks {need.strip()}")


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        return 2
    check, src, fe, fc = sys.argv[1:]
    {"render": check_render, "options": check_options, "examples": check_examples,
     "units": check_units}[check](src, fe, fc)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
