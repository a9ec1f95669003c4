#!/bin/sh
# `make demo`: flowexport reads pcaps/demo.pcap and exports NetFlow v9 over UDP on loopback to
# flowcollect, which writes demo-out.csv. Prints a summary in which the capture's layer-3 totals
# (from the generator's truth file), the exporter's counters and the collector's records agree,
# and exits non-zero when they do not.
# Environment: BUILD (build directory, default ./build), PCAP (default pcaps/demo.pcap), TRUTH
# (default $PCAP.truth.csv),
# OUT (default demo-out.csv).
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
pcap=${PCAP:-pcaps/demo.pcap}
truth=${TRUTH:-$pcap.truth.csv}
out=${OUT:-demo-out.csv}
exporter=$build/exporter/flowexport
collector=$build/collector/flowcollect

for f in "$exporter" "$collector"; do
  if [ ! -x "$f" ]; then
    echo "demo: $f is missing: build first (make build BUILD=$build)" >&2
    exit 2
  fi
done
for f in "$pcap" "$truth"; do
  [ -r "$f" ] || { echo "demo: cannot read $f (scripts/make-demo-pcap.sh regenerates it)" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "demo: python3 is needed for the summary" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/nf-demo.XXXXXX")
cpid=""
cleanup() {
  if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then kill -KILL "$cpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free UDP port on loopback (bound and released).
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"$collector" -l "127.0.0.1:$port" -o "$out" --stats-json "$work/collector.json" \
  2>"$work/collector.log" &
cpid=$!

# Wait (at most 5 s) until the collector's socket is bound.
i=0
until ss -Hnlu "sport = :$port" 2>/dev/null | grep -q .; do
  if ! kill -0 "$cpid" 2>/dev/null; then
    echo "demo: flowcollect exited early:" >&2
    cat "$work/collector.log" >&2
    exit 1
  fi
  i=$((i + 1))
  if [ "$i" -gt 50 ]; then echo "demo: flowcollect did not bind 127.0.0.1:$port" >&2; exit 1; fi
  sleep 0.1
done

if ! "$exporter" -r "$pcap" -c "127.0.0.1:$port" --stats-json "$work/exporter.json" \
  2>"$work/exporter.log"; then
  echo "demo: flowexport failed:" >&2
  cat "$work/exporter.log" >&2
  exit 1
fi

# Loopback delivery is immediate: wait (at most 5 s) until the collector has read everything
# queued on its socket, then stop it the way an operator would (SIGTERM flushes CSV and stats).
hexport=$(printf '%04X' "$port")
i=0
while awk -v p=":$hexport" '$2 ~ p"$" { split($5, q, ":"); if (q[2] !~ /^0+$/) busy = 1 }
                            END { exit !busy }' /proc/net/udp 2>/dev/null; do
  i=$((i + 1))
  [ "$i" -gt 50 ] && break
  sleep 0.1
done
sleep 0.2
kill -TERM "$cpid"
i=0
while kill -0 "$cpid" 2>/dev/null; do
  i=$((i + 1))
  if [ "$i" -gt 100 ]; then echo "demo: flowcollect ignored SIGTERM for 10 s" >&2; exit 1; fi
  sleep 0.1
done
status=0
wait "$cpid" || status=$?
cpid=""
if [ "$status" -ne 0 ]; then
  echo "demo: flowcollect exited with status $status:" >&2
  cat "$work/collector.log" >&2
  exit 1
fi

python3 - "$truth" "$work/exporter.json" "$out" "$work/collector.json" <<'PY'
import csv, json, sys

truth_path, exporter_json, out_csv, collector_json = sys.argv[1:5]

def find(node, names):
    """First value under any of `names` (dotted paths allowed), searching nested objects."""
    for name in names:
        cur, ok = node, True
        for part in name.split("."):
            if isinstance(cur, dict) and part in cur:
                cur = cur[part]
            else:
                ok = False
                break
        if ok and isinstance(cur, (int, float)):
            return int(cur)
    if isinstance(node, dict):
        for value in node.values():
            found = find(value, names)
            if found is not None:
                return found
    return None

def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"demo: cannot read {path}: {e}", file=sys.stderr)
        return {}

with open(truth_path, newline="") as f:
    rows = list(csv.DictReader(f))
truth = (len(rows), sum(int(r["packets"]) for r in rows), sum(int(r["bytes"]) for r in rows))

ex = load(exporter_json)
# Keys documented at the top of exporter/flowexport_main.cc.
exporter = (find(ex, ["records_sent"]), find(ex, ["packets_exported"]),
            find(ex, ["bytes_exported"]))

REQUIRED = ("exporter,source_id,template_id,first,last,ip_version,protocol,src_addr,dst_addr,"
            "src_port,dst_port,tos,tcp_flags,input_if,output_if,packets,bytes").split(",")
with open(out_csv, newline="") as f:
    reader = csv.DictReader(f)
    out_rows = list(reader)
    header = reader.fieldnames or []
header_ok = header[:len(REQUIRED)] == REQUIRED

# Per flow: every truth flow appears once in the CSV with exactly its packets and bytes.
def key(r):
    return (r["ip_version"], r["protocol"], r["src_addr"], r["dst_addr"], r["src_port"],
            r["dst_port"])
got = {}
for r in out_rows:
    k = key(r)
    p, b, n = got.get(k, (0, 0, 0))
    got[k] = (p + int(r["packets"]), b + int(r["bytes"]), n + 1)
exact = sum(1 for r in rows if got.get(key(r)) == (int(r["packets"]), int(r["bytes"]), 1))
csv_totals = (len(out_rows), sum(int(r["packets"]) for r in out_rows),
              sum(int(r["bytes"]) for r in out_rows))

co = load(collector_json)
collector = (find(co, ["totals.records"]), find(co, ["totals.packets"]),
             find(co, ["totals.bytes"]))

def cell(v):
    return "-" if v is None else f"{v:,}"

lines = [("capture L3 totals (truth)", truth),
         ("flowexport --stats-json", exporter),
         ("flowcollect --stats-json", collector),
         ("flowcollect CSV rows", csv_totals)]
print(f"{'':28} {'flows':>8} {'packets':>10} {'bytes':>12}")
for name, (a, b, c) in lines:
    print(f"{name:28} {cell(a):>8} {cell(b):>10} {cell(c):>12}")
print(f"per flow: {exact} of {len(rows)} capture flows are in {out_csv} exactly once, with "
      f"exactly their packets and bytes")

bad = []
for name, values in lines[1:]:
    for label, got, want in zip(("flows", "packets", "bytes"), values, truth):
        if got is None and name.startswith("flowcollect (--stats"):
            continue  # optional: the CSV is the collector's real output
        if got != want:
            bad.append(f"{name} {label}: {cell(got)} != {cell(want)}")
if not header_ok:
    bad.append(f"{out_csv} header does not start with the required columns: {','.join(header)}")
if exact != len(rows):
    bad.append(f"{len(rows) - exact} flows differ from the capture's truth")
if bad:
    print("DISAGREE:\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
print(f"OK: exporter and collector agree with the capture ({out_csv}: {len(out_rows)} flow records)")
PY
