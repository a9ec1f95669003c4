#!/usr/bin/env python3
"""The command-line surface people use first (ctest label `cli`).

usage: check_cli.py CHECK SOURCE_DIR FLOWEXPORT FLOWCOLLECT NF_TRAFGEN
CHECK is one of:
  version   --version of both tools: the CMake project version (and libpcap's for flowexport)
  help      both --help texts end with an Examples section holding exactly the issue's
            common jobs, each with a one-line explanation
  progress  -r progress bar: drawn and finished with --progress, absent on a pipe by default
  exits     the documented exit statuses of both tools (0 success, 2 usage error, 1 failed
            run), with nothing on stdout whenever a run fails
  igb0 | read | collect | ng
            run the --help example of that job AS WRITTEN (the command line is taken from
            --help, only the program name becomes the built binary), bounded in time:
    igb0    `flowexport -i igb0 -c 10.0.0.5:1234` in a private network namespace (root only)
            with a veth pair whose end is named igb0 and carries 10.0.0.5, so capture and
            export never leave the namespace; checks the capture became exported flows
    read    `flowexport -r trace.pcap -c 127.0.0.1:2055` in a temp dir with trace.pcap from
            nf-trafgen and a UDP receiver on 127.0.0.1:2055
    collect `flowcollect -l 2055 -A src_addr -t 300 --top 10`, fed export datagrams on loopback,
            stopped with SIGTERM; checks the CSV on stdout
    ng      the ng_netflow bootstrap example (it only prints a script)
As root, read and collect also run in a private network namespace, so port 2055 is free and
nothing else on the machine sees the traffic; otherwise they use the host's loopback and skip
(exit 77, with the reason) when port 2055 is taken. Exit 0 pass, 1 fail, 77 skip.
"""
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
TIMEOUT = 20  # every child process is bounded

EXPECTED_EXAMPLES = {
    "flowexport": [
        "flowexport -i igb0 -c 10.0.0.5:1234",
        "flowexport -r trace.pcap -c 127.0.0.1:2055",
        "flowexport -i igb0 -c 10.0.0.5:1234 -T ng_netflow --routes /var/db/rib.mrt.bz2",
        "flowexport --ng-netflow -i igb0 -c 10.0.0.5:1234 --emit bootstrap",
    ],
    "flowcollect": [
        "flowcollect -l 2055 -A src_addr -t 300 --top 10",
        "flowcollect -l 2055 --routes rib.mrt.gz --geo-db GeoLite2-Country.mmdb -A dst_country,dst_port",
        "flowcollect -l 2055 --store /var/db/flows --store-compress --store-retention 30d",
        "flowcollect -r /var/db/flows --from -1h 'proto tcp and dst port 443' -A src_addr --top 10",
    ],
}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(SKIP)


def run(cmd, **kw):
    kw.setdefault("timeout", TIMEOUT)
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def help_examples(binary, name):
    """(command, explanation) pairs of the Examples section, which must end --help."""
    r = run([binary, "--help"])
    if r.returncode != 0:
        fail(f"{name} --help exited {r.returncode}: {r.stderr}")
    lines = r.stdout.rstrip("\n").split("\n")
    if "Examples:" not in lines:
        fail(f"{name} --help has no 'Examples:' section")
    body = lines[lines.index("Examples:") + 1:]
    pairs = []
    i = 0
    while i < len(body):
        line = body[i]
        m = re.match(r"^  (\S.*)$", line)
        if not m or not m.group(1).startswith(name + " "):
            fail(f"{name} --help: after 'Examples:' expected '  {name} ...', got {line!r} "
                 "(the Examples section must be the end of --help)")
        explanation = []
        i += 1
        while i < len(body) and body[i].startswith("      ") and body[i].strip():
            explanation.append(body[i].strip())
            i += 1
        if not explanation:
            fail(f"{name} --help: example {m.group(1)!r} has no explanation line under it")
        pairs.append((m.group(1), " ".join(explanation)))
    return pairs


def example(binary, name, startswith):
    for cmd, _ in help_examples(binary, name):
        if cmd.startswith(startswith):
            argv = shlex.split(cmd)
            return cmd, [binary] + argv[1:]
    fail(f"{name} --help has no example starting with {startswith!r}")


def check_version(src, fe, fc, _tg):
    text = open(os.path.join(src, "CMakeLists.txt"), encoding="utf-8").read()
    m = re.search(r"project\(flowtools VERSION (\d+\.\d+\.\d+)", text)
    if not m:
        fail("no project(flowtools VERSION x.y.z) in CMakeLists.txt")
    version = m.group(1)
    r = run([fe, "--version"])
    lines = r.stdout.splitlines()
    if r.returncode != 0 or r.stderr or not lines or lines[0] != f"flowexport {version}":
        fail(f"flowexport --version: rc {r.returncode}, out {r.stdout!r}, err {r.stderr!r}; "
             f"want first line 'flowexport {version}'")
    if len(lines) < 2 or "libpcap" not in lines[1]:
        fail(f"flowexport --version does not name the libpcap version: {r.stdout!r}")
    if shutil.which("pkg-config"):
        pc = run(["pkg-config", "--modversion", "libpcap"])
        if pc.returncode == 0 and f"built with libpcap {pc.stdout.strip()}" not in lines[1]:
            fail(f"flowexport --version: {lines[1]!r} lacks 'built with libpcap "
                 f"{pc.stdout.strip()}' (pkg-config)")
    print(f"flowexport --version: {' / '.join(lines)}")
    r = run([fc, "--version"])
    if r.returncode != 0 or r.stderr or r.stdout.strip() != f"flowcollect {version}":
        fail(f"flowcollect --version: rc {r.returncode}, out {r.stdout!r}; want "
             f"'flowcollect {version}'")
    print(f"flowcollect --version: {r.stdout.strip()}")


def check_help(_src, fe, fc, _tg):
    for binary, name in ((fe, "flowexport"), (fc, "flowcollect")):
        pairs = help_examples(binary, name)
        cmds = [c for c, _ in pairs]
        if cmds != EXPECTED_EXAMPLES[name]:
            fail(f"{name} --help examples {cmds} != {EXPECTED_EXAMPLES[name]}")
        for cmd, why in pairs:
            print(f"{cmd}\n    {why}")


# ---- Helpers for running examples.

def in_private_netns():
    return os.environ.get("NF_CLI_NETNS") == "1"


def reexec_in_netns_if_root():
    """As root: rerun this check inside `unshare -n` (a fresh network namespace that vanishes
    with the process) with loopback up. Returns only when running without a namespace."""
    if in_private_netns() or os.geteuid() != 0:
        return
    if not shutil.which("unshare") or not shutil.which("ip"):
        return
    probe = run(["unshare", "-n", "true"])
    if probe.returncode != 0:
        print(f"note: unshare -n unavailable ({probe.stderr.strip()}); using the host's loopback")
        return
    env = dict(os.environ, NF_CLI_NETNS="1")
    r = subprocess.run(["unshare", "-n", sys.executable] + sys.argv, env=env, timeout=120)
    sys.exit(r.returncode)


def netns_setup_lo():
    r = run(["ip", "link", "set", "lo", "up"])
    if r.returncode != 0:
        fail(f"ip link set lo up in the private namespace: {r.stderr}")


def bind_udp(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((addr, port))
    except OSError as e:
        s.close()
        return None, e
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    return s, None


def drain_v9(sock):
    """(datagrams, data flowsets) of NetFlow v9 received so far (bounded, non-blocking)."""
    sock.setblocking(False)
    datagrams = data_sets = 0
    for _ in range(1_000_000):
        try:
            d = sock.recv(65536)
        except BlockingIOError:
            break
        if len(d) < 20 or struct.unpack("!H", d[:2])[0] != 9:
            continue
        datagrams += 1
        off = 20
        while off + 4 <= len(d):
            set_id, length = struct.unpack("!HH", d[off:off + 4])
            if length < 4:
                break
            if set_id >= 256:
                data_sets += 1
            off += length
    return datagrams, data_sets


def make_trace(tg, path):
    r = run([tg, "-o", path, "-n", "5000", "-f", "200", "-s", "7", "-q"])
    if r.returncode != 0 or not os.path.exists(path):
        fail(f"nf-trafgen failed: {r.stdout}{r.stderr}")


def udp_port_bound(port):
    """True when something in this network namespace has UDP `port` bound (IPv4 or IPv6)."""
    hexport = f":{port:04X}"
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            for line in open(table, encoding="ascii").read().splitlines()[1:]:
                if line.split()[1].endswith(hexport):
                    return True
        except OSError:
            pass
    return False


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        fail(f"{proc.args[0]} did not exit within {TIMEOUT} s of SIGTERM:\n{err}")
    return out, err


def start_collector(argv, cmd, cwd):
    """Starts the collector `argv` (the example `cmd`) in `cwd` and returns it once UDP 2055 is
    bound, or after a bounded wait; fails when it exits first."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd)
    try:
        for _ in range(200):  # bounded wait until the socket is bound
            if proc.poll() is not None or udp_port_bound(2055):
                break
            time.sleep(0.05)
    except BaseException:
        stop(proc)
        raise
    if proc.poll() is not None:
        _, err = proc.communicate()
        fail(f"'{cmd}' exited {proc.returncode} at start:\n{err}")
    return proc


# ---- The examples.

def check_igb0(_src, fe, _fc, _tg):
    cmd, argv = example(fe, "flowexport", "flowexport -i igb0")
    if os.geteuid() != 0:
        skip(f"'{cmd}' needs root to create igb0 in a private network namespace")
    for tool in ("unshare", "ip"):
        if not shutil.which(tool):
            skip(f"'{cmd}' needs {tool} (util-linux, iproute2)")
    reexec_in_netns_if_root()
    if not in_private_netns():
        skip(f"'{cmd}': no private network namespace (unshare -n failed); never run on the "
             "host's interfaces")
    netns_setup_lo()
    # igb0 is one end of a veth pair inside this namespace; 10.0.0.5 is its own address, so the
    # export to 10.0.0.5:1234 is local and the namespace has no way out.
    for c in (["ip", "link", "add", "igb0", "type", "veth", "peer", "name", "igb0peer"],
              ["ip", "addr", "add", "10.0.0.5/24", "dev", "igb0"],
              ["ip", "link", "set", "igb0", "up"],
              ["ip", "link", "set", "igb0peer", "up"],
              # 10.0.0.9 answers no ARP: a static entry sends our probes out of igb0 at once.
              ["ip", "neigh", "replace", "10.0.0.9", "lladdr", "02:00:00:00:00:09", "dev",
               "igb0", "nud", "permanent"]):
        r = run(c)
        if r.returncode != 0:
            fail(f"{' '.join(c)}: {r.stderr}")
    rx, err = bind_udp("10.0.0.5", 1234)
    if rx is None:
        fail(f"cannot bind 10.0.0.5:1234 in the private namespace: {err}")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Traffic for igb0 to see: UDP from 10.0.0.5 to 10.0.0.9 (out of igb0, to the veth peer,
        # which drops it). Sent over 1.5 s so the capture is surely open for most of it.
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.bind(("10.0.0.5", 40000))
        for _ in range(30):
            if proc.poll() is not None:
                break
            tx.sendto(b"x" * 100, ("10.0.0.9", 9999))
            time.sleep(0.05)
        tx.close()
    finally:
        out, err = stop(proc)
    if proc.returncode != 0:
        fail(f"'{cmd}' exited {proc.returncode} after SIGTERM:\n{err}")
    datagrams, data_sets = drain_v9(rx)
    rx.close()
    if data_sets == 0:
        fail(f"'{cmd}': {datagrams} v9 datagrams but no data record reached 10.0.0.5:1234:\n{err}")
    m = re.search(r"packets seen ([\d,]*\d)", err)
    print(f"{cmd}: ran in a private netns; {datagrams} v9 datagrams ({data_sets} data sets) "
          f"reached 10.0.0.5:1234; capture saw {m.group(1) if m else '?'} packets")


def check_read(_src, fe, _fc, tg):
    cmd, argv = example(fe, "flowexport", "flowexport -r trace.pcap")
    reexec_in_netns_if_root()
    if in_private_netns():
        netns_setup_lo()
    rx, err = bind_udp("127.0.0.1", 2055)
    if rx is None:
        skip(f"'{cmd}': 127.0.0.1:2055 is in use on this machine ({err}); run as root to use a "
             "private network namespace")
    with tempfile.TemporaryDirectory() as tmp:
        make_trace(tg, os.path.join(tmp, "trace.pcap"))
        r = run(argv, cwd=tmp)
    if r.returncode != 0:
        fail(f"'{cmd}' exited {r.returncode}:\n{r.stderr}")
    datagrams, data_sets = drain_v9(rx)
    rx.close()
    m = re.search(r"in ([\d,]*\d) records, ([\d,]*\d) datagrams", r.stderr)
    if not m or datagrams == 0:
        fail(f"'{cmd}': received {datagrams} v9 datagrams; summary:\n{r.stderr}")
    sent = int(m.group(2).replace(",", ""))
    if datagrams != sent:
        fail(f"'{cmd}': sent {sent} datagrams, {datagrams} arrived on loopback")
    if "dropped:   nothing" not in r.stderr:
        fail(f"'{cmd}': the summary reports drops:\n{r.stderr}")
    where = "a private netns" if in_private_netns() else "the host's loopback"
    print(f"{cmd}: {sent} datagrams sent, all received on 127.0.0.1:2055 ({where}); "
          f"{m.group(1)} records")


def check_collect(_src, fe, fc, tg):
    cmd, argv = example(fc, "flowcollect", "flowcollect -l 2055")
    reexec_in_netns_if_root()
    if in_private_netns():
        netns_setup_lo()
    elif udp_port_bound(2055):
        skip(f"'{cmd}': UDP port 2055 is in use on this machine; run as root to use a private "
             "network namespace")
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "trace.pcap")
        make_trace(tg, trace)
        proc = start_collector(argv, cmd, tmp)
        try:
            r = run([fe, "-r", trace, "-c", "127.0.0.1:2055"])
            if r.returncode != 0:
                fail(f"feeding flowexport exited {r.returncode}: {r.stderr}")
            sent = re.search(r"in ([\d,]*\d) records, ([\d,]*\d) datagrams", r.stderr)
            time.sleep(0.5)  # let the collector read what is queued (SIGTERM drains anyway)
        finally:
            out, err = stop(proc)
    if proc.returncode != 0:
        fail(f"'{cmd}' exited {proc.returncode} after SIGTERM:\n{err}")
    rows = out.splitlines()
    if not rows or rows[0] != "bin_start,src_addr,flows,packets,bytes":
        fail(f"'{cmd}': CSV header {rows[:1]}; stderr:\n{err}")
    per_bin = {}
    flows = 0
    for row in rows[1:]:
        f = row.split(",")
        per_bin[f[0]] = per_bin.get(f[0], 0) + 1
        flows += int(f[2])
    if not per_bin or max(per_bin.values()) > 10:
        fail(f"'{cmd}': groups per bin {per_bin}")
    m = re.search(r"decoded:\s+([\d,]*\d) flow records", err)
    if not m or not sent or m.group(1) != sent.group(1):
        fail(f"'{cmd}': exporter sent {sent.group(1) if sent else '?'} records, collector "
             f"summary:\n{err}")
    print(f"{cmd}: {len(rows) - 1} CSV rows in {len(per_bin)} bins (at most 10 each), "
          f"{m.group(1)} records decoded = records sent")


def check_store(_src, fe, fc, tg):
    """The --store example keeps a live stream; the -r query example answers from it alike."""
    cmd, argv = example(fc, "flowcollect", "flowcollect -l 2055 --store")
    qcmd, qargv = example(fc, "flowcollect", "flowcollect -r /var/db/flows")
    reexec_in_netns_if_root()
    if in_private_netns():
        netns_setup_lo()
    elif udp_port_bound(2055):
        skip(f"'{cmd}': UDP port 2055 is in use on this machine; run as root to use a private "
             "network namespace")
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "flows")
        argv = [store if a == "/var/db/flows" else a for a in argv]
        qargv = [store if a == "/var/db/flows" else a for a in qargv]
        trace = os.path.join(tmp, "trace.pcap")
        make_trace(tg, trace)
        proc = start_collector(argv + ["-o", os.path.join(tmp, "live.csv")], cmd, tmp)
        try:
            r = run([fe, "-r", trace, "-c", "127.0.0.1:2055"])
            if r.returncode != 0:
                fail(f"feeding flowexport exited {r.returncode}: {r.stderr}")
            sent = re.search(r"in ([\d,]*\d) records, ([\d,]*\d) datagrams", r.stderr)
            time.sleep(0.5)
        finally:
            out, err = stop(proc)
        if proc.returncode != 0:
            fail(f"'{cmd}' exited {proc.returncode} after SIGTERM:\n{err}")
        files = [os.path.join(d, f) for d, _, fs in os.walk(store) for f in fs]
        if not files or not all(re.fullmatch(r"flows-\d{14}\.pcap\.zst", os.path.basename(f))
                                for f in files):
            fail(f"'{cmd}': store files {files}")
        # Every record back from the store, then the example's filtered top 10.
        everything = run([fc, "-r", store, "-A", "protocol", "-q"])
        total = sum(int(row.split(",")[1]) for row in everything.stdout.splitlines()[1:])
        if everything.returncode != 0 or not sent or total != int(sent.group(1).replace(",", "")):
            fail(f"-r {store}: {total} records, exporter sent {sent.group(1) if sent else '?'}:\n"
                 f"{everything.stderr}")
        q = run(qargv)
        rows = q.stdout.splitlines()
        if q.returncode != 0 or not rows or rows[0] != "src_addr,flows,packets,bytes" or \
                not 1 <= len(rows) - 1 <= 10:
            fail(f"'{qcmd}' exited {q.returncode}: {q.stdout[:500]}\n{q.stderr}")
    print(f"{cmd}: {len(files)} file(s), {total} records back = records sent; '{qcmd}': "
          f"{len(rows) - 1} rows")


def check_ng(_src, fe, _fc, _tg):
    cmd, argv = example(fe, "flowexport", "flowexport --ng-netflow")
    r = run(argv)
    if r.returncode != 0 or "ngctl" not in r.stdout or "10.0.0.5" not in r.stdout:
        fail(f"'{cmd}': rc {r.returncode}\n{r.stdout[:400]}{r.stderr}")
    print(f"{cmd}: {len(r.stdout.splitlines())}-line bootstrap script")


def check_progress(_src, fe, fc, tg):
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "trace.pcap")
        make_trace(tg, trace)
        rx, err = bind_udp("127.0.0.1", 0)
        port = rx.getsockname()[1]
        runs = [
            ("flowexport", [fe, "-r", trace, "-c", f"127.0.0.1:{port}"]),
            ("flowcollect", [fc, "-r", trace, "-o", os.path.join(tmp, "out.csv")]),
        ]
        for name, argv in runs:
            # stderr is a pipe here: no bar by default.
            r = run(argv)
            if r.returncode != 0 or "\r" in r.stderr or "ETA" in r.stderr or "done in" in r.stderr:
                fail(f"{name} -r without a terminal drew progress (rc {r.returncode}):\n"
                     f"{r.stderr!r}")
            # --progress forces it: the final line shows the whole file read and ends the line.
            r = run(argv + ["--progress"])
            last = [seg for seg in r.stderr.split("\r") if seg.strip()]
            final = [seg for seg in last if "done in" in seg]
            if r.returncode != 0 or not final:
                fail(f"{name} -r --progress: no final progress line (rc {r.returncode}):\n"
                     f"{r.stderr!r}")
            line, newline, _ = final[-1].lstrip("\n").partition("\n")
            if "100.0%" not in line or not line.endswith("\x1b[K") or not newline or \
                    " pkt/s" not in line:
                fail(f"{name} -r --progress final line: {line!r}")
            r = run(argv + ["--no-progress"])
            if "\r" in r.stderr:
                fail(f"{name} -r --no-progress drew progress: {r.stderr!r}")
            print(f"{name} -r: quiet on a pipe; --progress ends with {line.strip()!r}")
        rx.close()


def check_exits(_src, fe, fc, tg):
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "trace.pcap")
        make_trace(tg, trace)
        missing = os.path.join(d, "missing.pcap")
        junk = os.path.join(d, "notacapture.pcap")
        with open(junk, "w") as f:
            f.write("this is not a capture file\n" * 10)
        out_csv = os.path.join(d, "out.csv")
        # Routes files: one that parses, one that does not (bad data: a failed run).
        routes = os.path.join(d, "routes.txt")
        with open(routes, "w") as f:
            f.write("192.0.2.0/24 64500\n")
        bad_routes = os.path.join(d, "bad-routes.txt")
        with open(bad_routes, "w") as f:
            f.write("192.0.2.0/24 64500\n192.0.2.0/40 1\n")
        # A port someone else holds: binding it is a failed run, not a usage error.
        held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        held.bind(("127.0.0.1", 0))
        held_port = held.getsockname()[1]
        cases = [
            # (expected status, argv)
            (0, [fe, "--help"]),
            (0, [fc, "--version"]),
            (2, [fe, "-c", "127.0.0.1"]),
            (2, [fe, "-r", trace, "-c", "127.0.0.1"]),
            (2, [fe, "-r", trace, "-c", "127.0.0.1:70000"]),
            (2, [fc, "-l", "70000"]),
            (2, [fc, "-l", "not-an-address:2055"]),
            (2, [fc, "-l", "127.0.0.1:70000", "-o", out_csv]),
            (2, [fe, "-r", missing, "-c", "127.0.0.1:9"]),
            (2, [fc, "-r", missing]),
            (2, [fe, "--no-such-option"]),
            (2, [fc, "--no-such-option"]),
            (2, [fe, "-r", trace, "-c", "127.0.0.1:9", "--mtu", "ten"]),
            (2, [fc, "-r", trace, "-A", "no_such_column"]),
            (2, [fc, "-r", trace, "-l", "2055"]),
            (2, [fe, "-r", trace, "-c", "127.0.0.1:9", "--routes", missing]),
            (2, [fc, "-r", trace, "--enrich-override"]),
            (1, [fe, "-r", trace, "-c", "127.0.0.1:9", "--routes", bad_routes]),
            (2, [fe, "--ng-netflow", "-i", "igb0", "-c", "127.0.0.1:9", "--routes", routes]),
            (1, [fc, "-r", trace, "--routes", bad_routes, "-o", out_csv]),
            (1, [fe, "-r", junk, "-c", "127.0.0.1:9"]),
            (1, [fc, "-r", junk]),
            (1, [fc, "-r", junk, "-o", out_csv]),
            (1, [fc, "-l", f"127.0.0.1:{held_port}", "-o", out_csv]),
            (1, [fe, "-r", trace, "-c", "127.0.0.1:9", "--max-export-rate", "0",
                 "--stats-json", os.path.join(d, "no", "such", "dir", "stats.json")]),
        ]
        try:
            for want, argv in cases:
                r = run(argv)
                shown = " ".join(os.path.basename(a) if a in (fe, fc) else a for a in argv)
                if r.returncode != want:
                    fail(f"'{shown}' exited {r.returncode}, want {want}:\n{r.stderr}")
                if want != 0:
                    if r.stdout:
                        fail(f"'{shown}' failed but wrote to stdout: {r.stdout[:200]!r}")
                    if not r.stderr.strip():
                        fail(f"'{shown}' exited {want} without saying why on stderr")
                    if os.path.exists(out_csv):
                        fail(f"'{shown}' failed but left {out_csv}")
                print(f"{want}  {shown}")
            # The metrics endpoint's TLS needs both files: refused before anything runs.
            for binary in (fe, fc):
                argv = [binary, "--metrics", "127.0.0.1:0", "--metrics-tls-cert", routes]
                r = run(argv)
                want_msg = "--metrics-tls-cert requires --metrics-tls-key"
                if r.returncode != 2 or want_msg not in r.stderr:
                    fail(f"'{os.path.basename(binary)} --metrics-tls-cert' without a key exited "
                         f"{r.returncode}, want 2 and '{want_msg}':\n{r.stderr}")
                print(f"2  {os.path.basename(binary)} --metrics ... --metrics-tls-cert (no key)")
        finally:
            held.close()


def main():
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    check, src = sys.argv[1:3]
    fe, fc, tg = (os.path.abspath(p) for p in sys.argv[3:])
    {"version": check_version, "help": check_help, "progress": check_progress,
     "igb0": check_igb0, "read": check_read, "collect": check_collect, "store": check_store,
     "ng": check_ng, "exits": check_exits}[check](src, fe, fc, tg)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
