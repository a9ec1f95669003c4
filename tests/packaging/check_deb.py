#!/usr/bin/env python3
"""The .deb installs into a clean root and its services start on loopback (ctest label
`packaging`).

usage: check_deb.py SOURCE_DIR BUILD_DIR

1. Builds the package as an operator would: `cpack -G DEB` in the build directory.
2. Inspects it with dpkg-deb -I / -c: name, version (the CMake project version), declared
   dependencies (each installed and satisfied on this machine), conffiles, and the payload
   (stripped binaries, man pages, systemd units, configuration, templates; no developer tools).
3. Installs it into a throwaway root with `dpkg --root` (an empty dpkg database: the
   package's dependencies are the host's, so --force-depends) and checks dpkg's view of it.
4. Starts both daemons FROM THAT ROOT the way systemd would: the command is each unit's
   ExecStart with the unit's environment file expanded; only paths are changed (/usr/bin ->
   the root's, the StateDirectory -> a temp dir). As root this runs in a private network
   namespace (`unshare -n`, loopback up), so port 2055 is free and nothing leaves it; the
   exporter unit is instantiated on `lo` with the shipped example options. Checks that
   flowcollect listens on 127.0.0.1:2055 and [::1]:2055 only, that flowexport exports what it
   captured to it, and that both stop cleanly on SIGTERM with their outputs written.
5. `systemd-analyze verify` on the installed units (when systemd-analyze exists).
Without root, step 4 runs the collector on the host's loopback (skipped when 2055 is taken)
and feeds it with the installed flowexport reading pcaps/demo.pcap instead of capturing.
Exit 0 pass, 1 fail, 77 skip (no cpack/dpkg).
"""
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
TIMEOUT = 30


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd, **kw):
    kw.setdefault("timeout", TIMEOUT)
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def project_version(src):
    text = open(os.path.join(src, "CMakeLists.txt"), encoding="utf-8").read()
    m = re.search(r"project\(flowtools VERSION (\d+\.\d+\.\d+)", text)
    if not m:
        fail("no project(flowtools VERSION x.y.z) in CMakeLists.txt")
    return m.group(1)


def build_deb(build, out):
    r = run(["cpack", "-G", "DEB", "-B", out], cwd=build, timeout=150)
    debs = [f for f in os.listdir(out) if f.endswith(".deb")] if os.path.isdir(out) else []
    if r.returncode != 0 or len(debs) != 1:
        fail(f"cpack -G DEB (rc {r.returncode}) made {debs}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return os.path.join(out, debs[0])


def check_control(deb, version):
    r = run(["dpkg-deb", "-I", deb])
    if r.returncode != 0:
        fail(f"dpkg-deb -I: {r.stderr}")
    fields = dict(re.findall(r"^ ([A-Z][\w-]*): (.*)$", r.stdout, re.M))
    if fields.get("Package") != "flowtools" or fields.get("Version") != version:
        fail(f"control: Package {fields.get('Package')}, Version {fields.get('Version')} "
             f"(want flowtools {version})")
    depends = fields.get("Depends", "")
    for need in ("libpcap", "libabsl", "libc6", "libstdc++6"):
        if need not in depends:
            fail(f"Depends lacks {need}: {depends!r}")
    # Every dependency is installed and satisfied here (so the extracted binaries can run).
    for dep in [d.strip() for d in depends.split(",") if d.strip()]:
        m = re.match(r"^([\w.+-]+)(?: \((>=|<=|>>|<<|=) ([^)]+)\))?$", dep)
        if not m:
            fail(f"cannot parse dependency {dep!r}")
        q = run(["dpkg-query", "-W", "-f", "${Version}", m.group(1)])
        if q.returncode != 0 or not q.stdout:
            fail(f"dependency {m.group(1)} is not installed on this machine")
        if m.group(2):
            op = {">=": "ge", "<=": "le", ">>": "gt", "<<": "lt", "=": "eq"}[m.group(2)]
            c = run(["dpkg", "--compare-versions", q.stdout, op, m.group(3)])
            if c.returncode != 0:
                fail(f"installed {m.group(1)} {q.stdout} does not satisfy {dep}")
    r = run(["dpkg-deb", "-f", deb, "Description"])
    if "flowexport" not in r.stdout or "flowcollect" not in r.stdout:
        fail(f"Description does not name both tools: {r.stdout!r}")
    with tempfile.TemporaryDirectory() as ctl:
        r = run(["dpkg-deb", "-e", deb, ctl])
        conffiles = open(os.path.join(ctl, "conffiles"), encoding="utf-8").read().split() \
            if os.path.exists(os.path.join(ctl, "conffiles")) else []
    if conffiles != ["/etc/default/flowcollect"]:
        fail(f"conffiles {conffiles} (want /etc/default/flowcollect)")
    print(f"control: flowtools {version}, {fields.get('Architecture')}; Depends: {depends}; "
          f"conffiles {conffiles}; every dependency satisfied here")


REQUIRED = [
    "./usr/bin/flowexport", "./usr/bin/flowcollect",
    "./usr/share/man/man1/flowexport.1.gz", "./usr/share/man/man1/flowcollect.1.gz",
    "./usr/lib/systemd/system/flowexport@.service", "./usr/lib/systemd/system/flowcollect.service",
    "./etc/default/flowcollect",
    "./usr/share/doc/flowtools/examples/flowexport",
    "./usr/share/doc/flowtools/examples/flowcollect",
    "./usr/share/flowtools/templates/default.tmpl",
    "./usr/sbin/flowcollect-ha-state",
]


def check_payload(deb):
    r = run(["dpkg-deb", "-c", deb])
    if r.returncode != 0:
        fail(f"dpkg-deb -c: {r.stderr}")
    paths = [line.split()[-1] for line in r.stdout.splitlines() if line.strip()]
    missing = [p for p in REQUIRED if p not in paths]
    if missing:
        fail(f"package lacks {missing}; it holds:\n{r.stdout}")
    stray = [p for p in paths if re.search(r"(trafgen|_test$|_bench$|_fuzz$|/include/|\.a$)", p)
             or p.startswith("./usr/local")]
    if stray:
        fail(f"package holds developer files or /usr/local paths: {stray}")
    print(f"payload: {len(paths)} entries, all of {len(REQUIRED)} required ones present, no "
          "developer tools")


def install_root(deb, root):
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
    r = run(["dpkg", f"--root={root}", "--log=/dev/null", "--force-depends",
             "--force-not-root", "--force-script-chrootless", "-i", deb], timeout=60)
    if r.returncode != 0:
        fail(f"dpkg --root -i (rc {r.returncode}):\n{r.stdout}{r.stderr}")
    r = run(["dpkg", f"--root={root}", "-s", "flowtools"])
    if "Status: install ok installed" not in r.stdout:
        fail(f"dpkg --root -s flowtools:\n{r.stdout}{r.stderr}")
    if "Conffiles:" not in r.stdout or "/etc/default/flowcollect" not in r.stdout:
        fail(f"dpkg does not record /etc/default/flowcollect as a conffile:\n{r.stdout}")
    for p in REQUIRED:
        if not os.path.exists(os.path.join(root, p)):
            fail(f"{p} missing after dpkg --root -i")
    # Stripped: no DWARF left in the shipped binaries.
    if shutil.which("readelf"):
        for b in ("flowexport", "flowcollect"):
            r = run(["readelf", "-S", os.path.join(root, "usr/bin", b)])
            if ".debug_info" in r.stdout:
                fail(f"/usr/bin/{b} in the package is not stripped")
    print(f"dpkg --root: installed cleanly into an empty root ({root}); conffile recorded")


def unit_command(root, unit, instance, env_file, state_dir):
    """argv systemd would run for `unit`: ExecStart with %i and the environment file's
    variables expanded; paths made to point into `root` / `state_dir`."""
    text = open(os.path.join(root, "usr/lib/systemd/system", unit), encoding="utf-8").read()
    m = re.search(r"^ExecStart=(.*)$", text, re.M)
    if not m:
        fail(f"{unit}: no ExecStart")
    env = {}
    for line in open(env_file, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            env[k] = shlex.split(v)[0] if v else ""
    words = []
    for w in m.group(1).replace("%i", instance).split():
        if w.startswith("$"):
            words += env.get(w[1:].strip("{}"), "").split()  # systemd splits $VAR on spaces
        else:
            words.append(w)
    if not words[0].startswith("/usr/bin/"):
        fail(f"{unit}: ExecStart {words[0]} is not in /usr/bin")
    fixed = [os.path.join(root, words[0].lstrip("/"))]
    for w in words[1:]:
        fixed.append(w.replace("/var/lib/flowcollect", state_dir))
    return m.group(1), fixed


def udp_bound(port):
    found = []
    for table, v6 in (("/proc/net/udp", False), ("/proc/net/udp6", True)):
        try:
            for line in open(table, encoding="ascii").read().splitlines()[1:]:
                local = line.split()[1]
                addr, p = local.split(":")
                if int(p, 16) == port:
                    found.append((v6, addr))
        except OSError:
            pass
    return found


def stop(proc, name):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        fail(f"{name} did not stop within {TIMEOUT} s of SIGTERM:\n{err}")
    if proc.returncode != 0:
        fail(f"{name} exited {proc.returncode} after SIGTERM:\n{err}")
    return out, err


def start_services(src, root, state):
    private = os.environ.get("NF_DEB_NETNS") == "1"
    if private:
        r = run(["ip", "link", "set", "lo", "up"])
        if r.returncode != 0:
            fail(f"ip link set lo up: {r.stderr}")
    elif udp_bound(2055):
        print("SKIP (start): UDP port 2055 is in use on this machine and this is not root (no "
              "private network namespace); the package checks above passed")
        sys.exit(SKIP)
    raw_fc, fc_argv = unit_command(root, "flowcollect.service", "", os.path.join(
        root, "etc/default/flowcollect"), state)
    print(f"flowcollect.service ExecStart={raw_fc}\n  runs: {' '.join(fc_argv)}")
    fc = subprocess.Popen(fc_argv, cwd=state, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    try:
        for _ in range(200):  # bounded wait for the sockets
            if fc.poll() is not None or len(udp_bound(2055)) >= 2:
                break
            time.sleep(0.05)
        if fc.poll() is not None:
            fail(f"flowcollect from the package exited {fc.returncode} at start:\n"
                 f"{fc.communicate()[1]}")
        bound = udp_bound(2055)
        want = {(False, "0100007F"), (True, "00000000000000000000000001000000")}
        if set(bound) != want:
            fail(f"flowcollect sockets on port 2055: {bound}; want 127.0.0.1 and ::1 only")
        print("flowcollect: listening on 127.0.0.1:2055 and [::1]:2055 only")
        if private:
            raw_fe, fe_argv = unit_command(
                root, "flowexport@.service", "lo",
                os.path.join(root, "usr/share/doc/flowtools/examples/flowexport"), state)
            print(f"flowexport@lo.service ExecStart={raw_fe}\n  runs: {' '.join(fe_argv)}")
            fe = subprocess.Popen(fe_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
            try:
                tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for _ in range(30):  # traffic on lo for the capture, over 1.5 s
                    if fe.poll() is not None:
                        break
                    tx.sendto(b"y" * 200, ("127.0.0.1", 9))
                    time.sleep(0.05)
                tx.close()
            finally:
                _, fe_err = stop(fe, "flowexport@lo")
            m = re.search(r"in ([\d,]*\d) records", fe_err)
            if not m or m.group(1) == "0":
                fail(f"flowexport@lo exported nothing:\n{fe_err}")
            print(f"flowexport@lo: captured on lo, exported {m.group(1)} records to "
                  "127.0.0.1:2055, stopped cleanly on SIGTERM")
        else:
            fe = run([os.path.join(root, "usr/bin/flowexport"), "-r",
                      os.path.join(src, "pcaps", "demo.pcap"), "-c", "127.0.0.1:2055"])
            if fe.returncode != 0:
                fail(f"installed flowexport -r demo.pcap exited {fe.returncode}: {fe.stderr}")
            print("flowexport (not root: no capture) fed the collector from pcaps/demo.pcap")
        time.sleep(0.5)  # the collector reads what is queued (SIGTERM drains too)
    finally:
        _, fc_err = stop(fc, "flowcollect")
    stats = json.load(open(os.path.join(state, "stats.json"), encoding="utf-8"))
    records = stats["totals"]["records"]
    csvs = [f for f in os.listdir(state) if f.startswith("flows-") and f.endswith(".csv")]
    rows = sum(len(open(os.path.join(state, f), encoding="utf-8").read().splitlines()) - 1
               for f in csvs)
    if records == 0 or rows != records or not os.path.exists(os.path.join(state,
                                                                          "templates.store")):
        fail(f"flowcollect state after SIGTERM: {records} records, {rows} CSV rows in {csvs}, "
             f"templates.store {'present' if os.path.exists(os.path.join(state, 'templates.store')) else 'missing'}\n{fc_err}")
    print(f"flowcollect: stopped cleanly; {records} records -> {rows} rows in {csvs}, "
          "stats.json and templates.store written")


def verify_units(root):
    sa = shutil.which("systemd-analyze")
    if not sa:
        print("note: systemd-analyze not installed; units not verified")
        return
    with tempfile.TemporaryDirectory() as tmp:
        units = []
        for unit in ("flowexport@.service", "flowcollect.service"):
            text = open(os.path.join(root, "usr/lib/systemd/system", unit), encoding="utf-8").read()
            dst = os.path.join(tmp, unit)
            with open(dst, "w", encoding="utf-8") as f:
                f.write(text.replace("/usr/bin/", os.path.join(root, "usr/bin") + "/"))
            units.append(dst)
        r = run([sa, "verify", "--man=no"] + units)
        if r.returncode != 0 and "Failed to" in r.stderr and "bus" in r.stderr.lower():
            print(f"note: systemd-analyze cannot run here: {r.stderr.strip()}")
            return
        ours = [l for l in r.stderr.splitlines() if "flowexport" in l or "flowcollect" in l]
        if r.returncode != 0 or ours:
            fail(f"systemd-analyze verify on the installed units (rc {r.returncode}):\n{r.stderr}")
    print("systemd-analyze verify: installed units clean")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--start-only":
        # Re-entered inside the private network namespace.
        start_services(sys.argv[2], sys.argv[3], os.environ["NF_DEB_STATE"])
        return 0
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    src, build = (os.path.abspath(p) for p in sys.argv[1:])
    for tool in ("cpack", "dpkg", "dpkg-deb"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} not installed")
            return SKIP
    version = project_version(src)
    with tempfile.TemporaryDirectory(prefix="flowtools-deb-") as tmp:
        deb = build_deb(build, os.path.join(tmp, "pkg"))
        print(f"built {os.path.basename(deb)} ({os.path.getsize(deb) // 1024} KiB)")
        check_control(deb, version)
        check_payload(deb)
        root = os.path.join(tmp, "root")
        install_root(deb, root)
        verify_units(root)
        state = os.path.join(tmp, "state")
        os.mkdir(state)
        if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip") and \
                run(["unshare", "-n", "true"]).returncode == 0:
            env = dict(os.environ, NF_DEB_NETNS="1", NF_DEB_STATE=state)
            r = subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__),
                                "--start-only", src, root], env=env, timeout=90)
            if r.returncode != 0:
                return r.returncode
        else:
            start_services(src, root, state)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
