#!/usr/bin/env python3
"""flowcollect --report end to end (ctest label `report`).

usage: check_report.py CHECK FLOWCOLLECT [SHARED_DIR]   (NF_SHARED_DIR overrides SHARED_DIR)
CHECK is one of:
  generated  flowcollect -r on a NetFlow v9 capture this script writes (IPv4 and IPv6; TCP, UDP,
             ICMP, ICMPv6, GRE; two exporters; three hours): the page parses, has its charts,
             its totals equal --stats-json, protocol bytes and top talkers equal the truth.
  corpus     flowcollect -r over every capture in CORPUS_DIR/netflow at once: page totals equal
             --stats-json totals (skips when SHARED_DIR/corpus is absent).
  live       flowcollect -l 127.0.0.1:PORT --report --rotate 1, datagrams sent over loopback:
             the page is rewritten while running, and at SIGTERM with the same totals as
             --stats-json.
  chromium   the generated page rendered by headless Chromium: --dump-dom has the chart SVGs and
             titles; the screenshot is a 1280x2000 PNG whose chart area has the protocol colours
             and is not blank (skips when chromium is absent).
Exit 0 pass, 1 fail, 77 skip. Every child process has a timeout.
"""
import glob
import html.parser
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

SKIP = 77
TIMEOUT = 60


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(SKIP)


# ---------------------------------------------------------------- NetFlow v9 capture writer

BOOT = 1_700_000_000  # exporter boot time (Unix seconds)
START = BOOT + 3600   # first export
V4_TEMPLATE, V6_TEMPLATE = 256, 257
# (type, length): src, dst, sport, dport, proto, pkts, bytes, first, last
V4_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 4), (1, 8), (22, 4), (21, 4)]
V6_FIELDS = [(27, 16), (28, 16), (7, 2), (11, 2), (4, 1), (2, 4), (1, 8), (22, 4), (21, 4)]


def template_flowset():
    body = b""
    for tid, fields in ((V4_TEMPLATE, V4_FIELDS), (V6_TEMPLATE, V6_FIELDS)):
        body += struct.pack("!HH", tid, len(fields))
        for t, n in fields:
            body += struct.pack("!HH", t, n)
    return struct.pack("!HH", 0, 4 + len(body)) + body


def data_flowset(tid, records):
    body = b""
    for r in records:
        body += r["src_raw"] + r["dst_raw"] + struct.pack(
            "!HHBIQII", r["sport"], r["dport"], r["proto"], r["packets"], r["bytes"],
            r["first_up"], r["last_up"])
    pad = (-len(body)) % 4
    body += b"\0" * pad
    return struct.pack("!HH", tid, 4 + len(body)) + body


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def udp_frame(src_ip, dst_ip, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + udp


def make_traffic(seed=9):
    """Datagrams (time, exporter, payload) and the records they carry (the truth)."""
    rng = random.Random(seed)
    # Talkers with distinct weights so the top 10 has no ties.
    v4_hosts = ["10.0.%d.%d" % (i // 200, i % 200 + 1) for i in range(60)]
    v6_hosts = ["2001:db8::%x" % (i + 1) for i in range(20)]
    protos = [(6, 443), (6, 80), (6, 22), (17, 53), (17, 123), (1, 0x0800), (47, 0)]
    datagrams, truth = [], []
    seq = {"192.0.2.1": 0, "192.0.2.2": 0}
    for minute in range(180):
        for exporter in ("192.0.2.1", "192.0.2.2"):
            now = START + minute * 60 + (0 if exporter.endswith("1") else 17)
            v4, v6 = [], []
            for _ in range(rng.randint(5, 15)):
                is_v6 = rng.random() < 0.25
                if is_v6:
                    src = rng.choice(v6_hosts[: rng.randint(1, 20)])
                    dst = rng.choice(v6_hosts)
                    proto, dport = rng.choice([(6, 443), (17, 53), (58, 0x8000)])
                else:
                    src = v4_hosts[min(int(rng.expovariate(0.15)), 59)]
                    dst = v4_hosts[rng.randint(0, 59)]
                    proto, dport = rng.choice(protos)
                duration = rng.randint(0, 50_000)
                last_up = (now - BOOT) * 1000 - rng.randint(0, 5000)
                first_up = last_up - duration
                packets = rng.randint(1, 2000)
                r = {
                    "src": src, "dst": dst, "proto": proto, "dport": dport,
                    "sport": rng.randint(1024, 65535), "packets": packets,
                    "bytes": packets * rng.randint(40, 1500) + rng.randint(0, 999),
                    "first_up": first_up, "last_up": last_up, "exporter": exporter,
                }
                fam = socket.AF_INET6 if is_v6 else socket.AF_INET
                r["src_raw"] = socket.inet_pton(fam, src)
                r["dst_raw"] = socket.inet_pton(fam, dst)
                (v6 if is_v6 else v4).append(r)
                truth.append(r)
            sets = [template_flowset()] if minute % 10 == 0 else []
            if v4:
                sets.append(data_flowset(V4_TEMPLATE, v4))
            if v6:
                sets.append(data_flowset(V6_TEMPLATE, v6))
            header = struct.pack("!HHIIII", 9, (2 if minute % 10 == 0 else 0) + len(v4) +
                                 len(v6), (now - BOOT) * 1000, now, seq[exporter], 1)
            seq[exporter] += 1
            datagrams.append((now, exporter, header + b"".join(sets)))
    return datagrams, truth


def write_pcap(path, datagrams):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, exporter, payload in datagrams:
            frame = udp_frame(exporter, "198.51.100.9", 40000, 2055, payload)
            f.write(struct.pack("<IIII", t, 0, len(frame), len(frame)) + frame)


# ---------------------------------------------------------------- page parsing

VOID = {"meta", "br", "img", "link", "input", "hr", "area", "base", "col", "source", "wbr"}


class PageParser(html.parser.HTMLParser):
    """Checks nesting (every non-void element closed in order) and collects what tests need."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors = [], []
        self.by_id = {}          # id -> attrs
        self.svgs = {}           # svg id -> {"rect": n, "text": n, "line": n}
        self.svg_titles = {}     # svg id -> its <title> text
        self.h2 = []
        self.text_of = {}        # id -> text content
        self.external = []
        self._svg = None
        self._capture = None     # (kind, key, parts)
        self.saw_doctype = False

    def handle_decl(self, decl):
        self.saw_doctype = decl.lower() == "doctype html"

    def _attrs(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.by_id[a["id"]] = a
        for k in ("src", "href", "xlink:href"):
            if k in a:
                self.external.append((tag, k, a[k]))
        if tag in ("script", "link", "iframe", "object", "embed", "img"):
            self.external.append((tag, "", ""))
        if self._svg is not None and tag in ("rect", "text", "line"):
            self.svgs[self._svg][tag] = self.svgs[self._svg].get(tag, 0) + 1
        return a

    def handle_starttag(self, tag, attrs):
        a = self._attrs(tag, attrs)
        if tag == "svg":
            self._svg = a.get("id", "?")
            self.svgs[self._svg] = {}
        if tag == "title" and self._svg is not None and self.stack and self.stack[-1] == "svg":
            self._capture = ("svgtitle", self._svg, [])
        elif tag == "h2":
            self._capture = ("h2", None, [])
        elif "id" in a and tag == "dd":
            self._capture = ("id", a["id"], [])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._attrs(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes <%s> at %s" % (
                tag, self.stack[-1] if self.stack else "nothing", self.getpos()))
            return
        self.stack.pop()
        if tag == "svg":
            self._svg = None
        if self._capture and tag in ("title", "h2", "dd"):
            kind, key, parts = self._capture
            text = "".join(parts).strip()
            if kind == "svgtitle":
                self.svg_titles[key] = text
            elif kind == "h2":
                self.h2.append(text)
            else:
                self.text_of[key] = text
            self._capture = None

    def handle_data(self, data):
        if self._capture:
            self._capture[2].append(data)


def parse_page(path):
    text = open(path, encoding="utf-8").read()
    p = PageParser()
    p.feed(text)
    p.close()
    if not p.saw_doctype:
        fail("page lacks <!DOCTYPE html>")
    if p.errors:
        fail("page is not well formed: " + "; ".join(p.errors[:5]))
    if p.stack:
        fail("unclosed elements at end of page: %s" % p.stack)
    if p.external:
        fail("page references external or active content: %s" % p.external[:5])
    if "<script" in text.lower():
        fail("page has a <script>")
    return p, text


def value(p, elem_id):
    if elem_id not in p.by_id or "data-value" not in p.by_id[elem_id]:
        fail("page has no #%s with data-value" % elem_id)
    return int(p.by_id[elem_id]["data-value"])


def check_page_against_stats(p, stats, expect_records=True):
    """Charts present; header totals equal flowcollect's --stats-json totals."""
    t = stats["totals"]
    for key in ("records", "packets", "bytes"):
        got = value(p, "total-" + key)
        if got != t[key]:
            fail("page total %s = %d, --stats-json says %d" % (key, got, t[key]))
    if value(p, "total-datagrams") != t["datagrams"]:
        fail("page datagrams %d != stats %d" % (value(p, "total-datagrams"), t["datagrams"]))
    addresses = {e["exporter"] for e in stats["exporters"]}
    if value(p, "total-exporters") != len(addresses):
        fail("page exporters %d != %d exporters in --stats-json" % (
            value(p, "total-exporters"), len(addresses)))
    if not expect_records:
        return
    for chart in ("traffic-chart", "top-sources-chart", "top-destinations-chart",
                  "top-ports-chart"):
        if chart not in p.svgs:
            fail("no <svg id=%s> in the page (have %s)" % (chart, sorted(p.svgs)))
        if p.svgs[chart].get("rect", 0) == 0:
            fail("%s has no bars" % chart)
        if not p.svg_titles.get(chart):
            fail("%s has no <title> (screen readers and hover need one)" % chart)
    if p.svgs["traffic-chart"].get("text", 0) < 6:
        fail("traffic chart has too few axis labels: %s" % p.svgs["traffic-chart"])
    for needle in ("Traffic over time by protocol", "source addresses by bytes",
                   "destination addresses by bytes", "destination ports by bytes", "Exporters"):
        if not any(needle in h for h in p.h2):
            fail("no section heading containing %r (have %s)" % (needle, p.h2))


def run_collector(fc, args, tmp):
    cmd = [fc] + args + ["--report", os.path.join(tmp, "report.html"), "--stats-json",
                         os.path.join(tmp, "stats.json"), "-q"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        fail("%s exited %d: %s" % (" ".join(cmd), r.returncode, r.stderr))
    if r.stdout:
        fail("--report without -o must not print CSV, got %d bytes" % len(r.stdout))
    return json.load(open(os.path.join(tmp, "stats.json")))


def top_truth(truth, key, n=10):
    sums = {}
    for r in truth:
        k = key(r)
        sums[k] = sums.get(k, 0) + r["bytes"]
    return sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))[:n + 1]


def ranking_rows(text, chart_id):
    """(label, exact bytes) from the <title> of each bar row of a ranking chart."""
    start = text.index('<svg id="%s"' % chart_id)
    body = text[start:text.index("</svg>", start)]
    rows = []
    for part in body.split('<g class="row"><title>')[1:]:
        tip = html.unescape(part.split("</title>", 1)[0])
        label, rest = tip.split(": ", 1)
        rows.append((label, int(rest.split(" bytes")[0].replace(",", ""))))
    return rows


def check_generated(fc, _corpus):
    tmp = tempfile.mkdtemp(prefix="nf-report-")
    try:
        datagrams, truth = make_traffic()
        pcap = os.path.join(tmp, "export.pcap")
        write_pcap(pcap, datagrams)
        stats = run_collector(fc, ["-r", pcap], tmp)
        p, text = parse_page(os.path.join(tmp, "report.html"))
        check_page_against_stats(p, stats)
        if stats["totals"]["records"] != len(truth):
            fail("flowcollect decoded %d records, the capture has %d" % (
                stats["totals"]["records"], len(truth)))
        # Protocol split against the truth.
        classes = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPv6"}
        want = {}
        for r in truth:
            c = classes.get(r["proto"], "other")
            want[c] = want.get(c, 0) + r["bytes"]
        table = text[text.index('<table id="protocol-table">'):]
        table = table[:table.index("</table>")]
        for row in table.split("<tr>")[2:]:
            name = html.unescape(row.split("</span> ", 1)[1].split("</td>", 1)[0])
            got = int(row.split('data-value="', 1)[1].split('"', 1)[0])
            if got != want.get(name, 0):
                fail("protocol %s: page says %d bytes, truth %d" % (name, got, want.get(name, 0)))
        # Top talkers and ports: exact (fewer keys than the sketch holds), same order.
        port_name = {6: "tcp", 17: "udp"}

        def port_label(r):
            if r["proto"] in port_name:
                return "%d/%s" % (r["dport"], port_name[r["proto"]])
            if r["proto"] == 1:
                return "icmp %d/%d" % (r["dport"] >> 8, r["dport"] & 255)
            if r["proto"] == 58:
                return "icmpv6 %d/%d" % (r["dport"] >> 8, r["dport"] & 255)
            return "gre"

        for chart, key in (("top-sources-chart", lambda r: r["src"]),
                           ("top-destinations-chart", lambda r: r["dst"]),
                           ("top-ports-chart", port_label)):
            want_rows = top_truth(truth, key)
            got_rows = ranking_rows(text, chart)
            if len(got_rows) != min(10, len(want_rows)):
                fail("%s has %d rows" % (chart, len(got_rows)))
            for i, (label, b) in enumerate(got_rows):
                if b != want_rows[i][1]:
                    fail("%s rank %d: %s %d bytes, truth %s %d" % (
                        chart, i + 1, label, b, want_rows[i][0], want_rows[i][1]))
                if label != want_rows[i][0] and want_rows[i][1] != want_rows[i + 1][1]:
                    fail("%s rank %d: %s, truth %s" % (chart, i + 1, label, want_rows[i][0]))
        # Bins: chosen from the three-hour span, 60-120 of them.
        bins = text.count('<g class="bin">')
        if not 60 <= bins <= 120:
            fail("traffic chart has %d non-empty bins, expected 60-120 for three hours" % bins)
        if "Exact: every key" not in text:
            fail("rankings over 80 addresses should be marked exact")
        print("generated: %d records, %d bins, totals and rankings match" % (len(truth), bins))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_corpus(fc, shared):
    shared = os.environ.get("NF_SHARED_DIR", shared)
    netflow = os.path.join(shared, "corpus", "netflow") if shared else ""
    if not netflow or not os.path.isdir(netflow):
        skip("../shared/corpus is absent: the corpus report test needs the shared material")
    files = sorted(glob.glob(os.path.join(netflow, "**", "*.pcap"), recursive=True))
    if not files:
        skip("no captures under %s" % netflow)
    tmp = tempfile.mkdtemp(prefix="nf-report-")
    try:
        args = []
        for f in files:
            args += ["-r", f]
        stats = run_collector(fc, args, tmp)
        p, _ = parse_page(os.path.join(tmp, "report.html"))
        check_page_against_stats(p, stats)
        print("corpus: %d captures, %d records, page totals equal --stats-json" % (
            len(files), stats["totals"]["records"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check_live(fc, _corpus):
    tmp = tempfile.mkdtemp(prefix="nf-report-")
    proc = None
    try:
        datagrams, truth = make_traffic(seed=4)
        datagrams = datagrams[:40]
        port = free_udp_port()
        report = os.path.join(tmp, "report.html")
        stats_path = os.path.join(tmp, "stats.json")
        err_path = os.path.join(tmp, "stderr.txt")
        with open(err_path, "w") as err_file:
            proc = subprocess.Popen([fc, "-l", "127.0.0.1:%d" % port, "--report", report,
                                     "--stats-json", stats_path, "--rotate", "1"],
                                    stdout=subprocess.DEVNULL, stderr=err_file)
        # Ready when the socket is bound (ss), bounded wait.
        deadline = time.time() + 20
        while time.time() < deadline:
            if proc.poll() is not None:
                fail("flowcollect exited early: %s" % open(err_path).read())
            probe = subprocess.run(["ss", "-Hulpn", "sport = :%d" % port], capture_output=True,
                                   text=True, timeout=TIMEOUT) if shutil.which("ss") else None
            if probe is None:
                time.sleep(1)  # no ss: give it a second
                break
            if probe.stdout.strip():
                break
            time.sleep(0.05)
        else:
            fail("flowcollect did not bind 127.0.0.1:%d" % port)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _, _, payload in datagrams:
            s.sendto(payload, ("127.0.0.1", port))
            time.sleep(0.001)  # pacing only; nothing depends on it
        s.close()
        # Stop once every datagram was counted (SIGUSR1 writes the stats), bounded.
        deadline = time.time() + 20
        while time.time() < deadline:
            proc.send_signal(signal.SIGUSR1)
            time.sleep(0.2)
            try:
                if json.load(open(stats_path))["receive"]["datagrams"] >= len(datagrams):
                    break
            except (OSError, ValueError, KeyError):
                pass
        # --rotate 1: the page is also rewritten every second while running (bounded wait for
        # one that has every record).
        want = json.load(open(stats_path))["totals"]["records"]
        deadline, periodic = time.time() + 20, None
        while time.time() < deadline:
            try:
                page = open(report, encoding="utf-8").read()
                if 'id="total-records" data-value="%d"' % want in page:
                    periodic = page
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if periodic is None:
            fail("no periodic page with all %d records appeared while running (--rotate 1)" % want)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=TIMEOUT)
        if proc.returncode != 0:
            fail("flowcollect exited %d: %s" % (proc.returncode, open(err_path).read()))
        stats = json.load(open(stats_path))
        if stats["receive"]["datagrams"] != len(datagrams):
            fail("received %d of %d datagrams on loopback" % (
                stats["receive"]["datagrams"], len(datagrams)))
        p, text = parse_page(report)
        check_page_against_stats(p, stats)
        if "-l 127.0.0.1:%d" % port not in text or "written " not in text:
            fail("live page does not say what it listened on and when it was written")
        print("live: %d datagrams, %d records, page written at exit" % (
            len(datagrams), stats["totals"]["records"]))
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- Chromium

def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(binary, tmp, extra, url):
    cmd = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           "--disable-background-networking", "--disable-component-update", "--mute-audio",
           "--hide-scrollbars", "--user-data-dir=" + os.path.join(tmp, "profile")] + extra + [url]
    env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=tmp, XDG_CACHE_HOME=tmp)
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        fail("chromium did not finish within %d s: %s" % (TIMEOUT, " ".join(cmd)))


def decode_png(path):
    """(width, height, rows of RGB tuples) for 8-bit RGB/RGBA PNGs, without PIL."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("%s is not a PNG" % path)
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack("!I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack("!IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
        pos += 12 + n
    width, height, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace:
        fail("unexpected PNG format: depth %d colour %d interlace %d" % (depth, colour, interlace))
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        elif f != 0:
            fail("bad PNG filter %d" % f)
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def check_chromium(fc, _corpus):
    binary = find_chromium()
    if binary is None:
        skip("chromium is not installed (scripts/setup-deps.sh installs the Debian package)")
    tmp = tempfile.mkdtemp(prefix="nf-report-")
    try:
        datagrams, _ = make_traffic()
        pcap = os.path.join(tmp, "export.pcap")
        write_pcap(pcap, datagrams)
        run_collector(fc, ["-r", pcap], tmp)
        url = "file://" + os.path.join(tmp, "report.html")

        r = chromium(binary, tmp, ["--dump-dom"], url)
        if r.returncode != 0 or "</html>" not in r.stdout:
            fail("chromium --dump-dom failed (rc %d): %s" % (r.returncode, r.stderr[-2000:]))
        dom = PageParser()
        dom.feed(r.stdout)
        for chart in ("traffic-chart", "top-sources-chart", "top-destinations-chart",
                      "top-ports-chart"):
            if chart not in dom.svgs or dom.svgs[chart].get("rect", 0) == 0:
                fail("rendered DOM lacks <svg id=%s> with bars" % chart)
        for title in ("Traffic over time by protocol", "Top 10 source addresses by bytes",
                      "Top 10 destination addresses by bytes", "Top 10 destination ports by bytes"):
            if title not in dom.h2 and title not in dom.svg_titles.values():
                fail("rendered DOM lacks the title %r" % title)

        shot = os.path.join(tmp, "out.png")
        r = chromium(binary, tmp, ["--screenshot=" + shot, "--window-size=1280,2000"], url)
        if r.returncode != 0 or not os.path.exists(shot):
            fail("chromium --screenshot failed (rc %d): %s" % (r.returncode, r.stderr[-2000:]))
        width, height, bpp, rows = decode_png(shot)
        if (width, height) != (1280, 2000):
            fail("screenshot is %dx%d, expected 1280x2000" % (width, height))
        colours = {"TCP": (0x00, 0x72, 0xB2), "UDP": (0xE6, 0x9F, 0x00),
                   "ICMP": (0x00, 0x9E, 0x73), "ICMPv6": (0xCC, 0x79, 0xA7)}
        found = {name: 0 for name in colours}
        box = [width, height, -1, -1]
        distinct, non_white = set(), 0
        orange = bytes(colours["UDP"])
        # Every other pixel of every other row: bars and text are wider than 2 pixels, and a
        # quarter of the pixels keeps the pure-Python scan fast.
        for y in range(0, height, 2):
            row = rows[y]
            runs, in_run, xs = 0, False, []
            for x in range(0, width * bpp, 2 * bpp):
                px = (row[x], row[x + 1], row[x + 2])
                if px != (255, 255, 255):
                    non_white += 1
                distinct.add(px)
                for name, c in colours.items():
                    if px == c:
                        found[name] += 1
                is_orange = row[x:x + 3] == orange
                if is_orange and not in_run:
                    runs += 1
                    xs.append(x // bpp)
                in_run = is_orange
                if is_orange:
                    xs.append(x // bpp)
            # Orange (UDP) in several separate bars on one row is only the time chart (the
            # legend and the protocol table have a single swatch per row).
            if runs >= 3:
                box = [min(box[0], min(xs)), min(box[1], y), max(box[2], max(xs)),
                       max(box[3], y)]
        missing = [name for name, n in found.items() if n == 0]
        if missing:
            fail("screenshot lacks the chart colours of %s (found %s)" % (missing, found))
        if len(distinct) < 20 or non_white < width * height // 4 // 20:
            fail("screenshot looks blank: %d colours, %d non-white pixels" % (
                len(distinct), non_white))
        # The traffic chart's area: several colours, and a fair share of it painted.
        x0, y0, x1, y1 = box
        if x1 - x0 < 400 or y1 - y0 < 50:
            fail("traffic chart area is too small: %s" % box)
        area_colours, painted = set(), 0
        for y in range(y0, y1 + 1, 2):
            row = rows[y]
            for x in range(x0, x1 + 1, 2):
                px = tuple(row[x * bpp:x * bpp + 3])
                area_colours.add(px)
                if px != (255, 255, 255):
                    painted += 1
        if len(area_colours) < 4 or painted < (x1 - x0) * (y1 - y0) // 4 // 10:
            fail("traffic chart area is nearly empty: %d colours, %d painted pixels" % (
                len(area_colours), painted))
        print("chromium: DOM has the 4 charts; screenshot %dx%d, %d colours, chart area %s with "
              "%d colours" % (width, height, len(distinct), box, len(area_colours)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    check, fc = sys.argv[1], sys.argv[2]
    corpus = sys.argv[3] if len(sys.argv) > 3 else ""
    checks = {"generated": check_generated, "corpus": check_corpus, "live": check_live,
              "chromium": check_chromium}
    if check not in checks:
        print(__doc__)
        sys.exit(2)
    checks[check](fc, corpus)


if __name__ == "__main__":
    main()
