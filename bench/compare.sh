#!/bin/bash
# Whole-run comparison on one generated capture: flowexport -r (1 thread, and --threads 2 when
# available) against nfpcapd -r and pmacctd with the nfprobe plugin, all exporting to nfcapd on
# loopback. Runs alternate between tools, several rounds; prints packets per second (wall clock
# and per CPU second), ratios against nfpcapd, and checks every tool's flow totals (packets, bytes,
# flows) against the generator's truth, read back with nfdump.
#
# Not part of `make test` (it takes minutes and needs ~1 GB of temporary disk).
# Usage: bench/compare.sh [-b BUILD_DIR] [-n PACKETS] [-f FLOWS] [-r ROUNDS] [-w WORK_DIR]
#                         [-t "TOOLS"] [-k]
#   -t limits the tools (default: flowexport flowexport-t2 nfpcapd nfpcapd-w pmacctd; pmacctd
#      needs about 2 minutes per run at 2,000,000 packets on this machine).
#   -k keeps the work directory (capture, nfcapd files) for inspection.
# On a shared or loaded machine trust the CPU-second columns more than the wall-clock ones.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BUILD:-build}
packets=2000000
flows=120000
rounds=3
work=""
keep=0
only=""
while getopts "b:n:f:r:w:t:kh" opt; do
  case $opt in
    b) build=$OPTARG ;;
    n) packets=$OPTARG ;;
    f) flows=$OPTARG ;;
    r) rounds=$OPTARG ;;
    w) work=$OPTARG ;;
    t) only=$OPTARG ;;
    k) keep=1 ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done

gen=$build/tools/trafgen/nf-trafgen
exporter=$build/exporter/flowexport
[ -x "$gen" ] || { echo "compare: $gen is not built (make build BUILD=$build)" >&2; exit 2; }
for tool in nfcapd nfdump; do
  command -v "$tool" >/dev/null || { echo "compare: $tool is missing (apt-get install nfdump)" >&2; exit 2; }
done

if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/nf-compare.XXXXXX")
else
  mkdir -p "$work"
fi
collector_pid=""
cleanup() {
  if [ -n "$collector_pid" ]; then kill -KILL "$collector_pid" 2>/dev/null || true; fi
  if [ "$keep" -eq 0 ]; then rm -rf "$work"; else echo "compare: kept $work" >&2; fi
}
trap cleanup EXIT

# --- the capture ------------------------------------------------------------------------------
pcap=$work/compare-$packets-$flows.pcap
truth=$pcap.truth.csv
if [ ! -s "$truth" ]; then
  echo "generating $packets packets / $flows flows ..." >&2
  # 1 Mpps of capture time: 2 s of traffic, flows interleaved, nothing idles out.
  "$gen" -o "$pcap" -n "$packets" -f "$flows" --seed 5 --ipv6-ratio 0.3 --vlan-ratio 0.1 \
    --rate 1000000 --max-flow-packets 50000 -q
fi
read -r truth_flows truth_packets truth_bytes < <(awk -F, 'NR > 1 { n++; p += $9; b += $10 }
  END { printf "%d %d %d\n", n, p, b }' "$truth")
cat "$pcap" >/dev/null  # page cache: the file read must not be what we measure
echo "capture: $pcap ($(du -h "$pcap" | cut -f1)), truth: $truth_flows flows, $truth_packets packets, $truth_bytes bytes" >&2

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Rx queue (bytes) of whatever is bound to UDP port $1 on loopback.
rx_queue() {
  local hex total=0 local_addr queues
  hex=$(printf '%04X' "$1")
  while read -r _ local_addr _ _ queues _; do
    [[ $local_addr == *":$hex" ]] || continue
    total=$((total + 16#${queues#*:}))
  done < <(tail -n +2 /proc/net/udp)
  echo "$total"
}

start_collector() {  # $1 = flow directory; sets port and collector_pid
  port=$(free_port)
  rm -rf "$1"
  mkdir -p "$1"
  nfcapd -b 127.0.0.1 -p "$port" -w "$1" -B 134217728 >"$1.log" 2>&1 &
  collector_pid=$!
  local _
  for _ in $(seq 1 100); do
    ss -Hnlu "sport = :$port" 2>/dev/null | grep -q . && return 0
    sleep 0.05
  done
  echo "compare: nfcapd did not bind port $port" >&2
  exit 1
}

stop_collector() {
  local _
  for _ in $(seq 1 200); do
    [ "$(rx_queue "$port")" -eq 0 ] && break
    sleep 0.05
  done
  sleep 0.2
  kill -TERM "$collector_pid"
  wait "$collector_pid" || true
  collector_pid=""
}

# "records packets bytes flows" as nfdump reads them back (flows: aggregated on the 5-tuple, so a
# tool that splits a flow into several records still counts it once).
nfdump_totals() {
  local records packets bytes flows
  read -r records packets bytes < <(nfdump -R "$1" -q -o csv 2>/dev/null |
    awk -F, 'NF > 12 { n++; p += $12; b += $13 } END { printf "%d %d %d\n", n, p, b }')
  flows=$(nfdump -R "$1" -q -a -o csv 2>/dev/null | awk -F, 'NF > 12 { n++ } END { print n + 0 }')
  echo "$records $packets $bytes $flows"
}

# --- the tools --------------------------------------------------------------------------------
tools=()
if [ -x "$exporter" ]; then
  tools+=(flowexport)
  if "$exporter" --help 2>&1 | grep -q -- '--threads'; then tools+=(flowexport-t2); fi
  unpaced=()
  if "$exporter" --help 2>&1 | grep -q -- '--max-export-rate'; then unpaced=(--max-export-rate 0); fi
else
  echo "compare: $exporter is not built: only the peers are measured" >&2
fi
if command -v nfpcapd >/dev/null; then tools+=(nfpcapd nfpcapd-w); else echo "compare: nfpcapd missing, skipped" >&2; fi
if command -v pmacctd >/dev/null; then tools+=(pmacctd); else echo "compare: pmacctd missing, skipped" >&2; fi

if [ -n "$only" ]; then
  selected=()
  for tool in "${tools[@]}"; do
    case " $only " in *" $tool "*) selected+=("$tool") ;; esac
  done
  tools=("${selected[@]}")
fi
[ "${#tools[@]}" -gt 0 ] || { echo "compare: no tool to run" >&2; exit 2; }

run_tool() {  # $1 = tool; runs it against the collector on $port
  case $1 in
    # --max-export-rate 0: no pacing of export datagrams (its -r default, 10,000/s, protects
    # slow collectors but would put a floor under the run time); the totals check still catches
    # any datagram nfcapd drops.
    flowexport) "$exporter" -r "$pcap" -c "127.0.0.1:$port" "${unpaced[@]}" ;;
    flowexport-t2) "$exporter" -r "$pcap" -c "127.0.0.1:$port" --threads 2 "${unpaced[@]}" ;;
    nfpcapd) nfpcapd -r "$pcap" -H "127.0.0.1/$port" ;;
    # nfpcapd writing nfcapd files itself (no network hop): shows whether a shortfall in the
    # networked run is nfpcapd's sender or the harness. Its files land where nfcapd's would.
    nfpcapd-w) mkdir -p "$dir/own" && nfpcapd -r "$pcap" -w "$dir/own" ;;
    pmacctd)
      cat >"$work/pmacctd.conf" <<EOF
daemonize: false
pcap_savefile: $pcap
pcap_savefile_wait: false
plugins: nfprobe
nfprobe_receiver: 127.0.0.1:$port
nfprobe_version: 9
aggregate: src_host, dst_host, src_port, dst_port, proto, tos
plugin_buffer_size: 10240
plugin_pipe_size: 102400000
EOF
      pmacctd -f "$work/pmacctd.conf" ;;
  esac
}

results=$work/results.txt
: >"$results"
for round in $(seq 1 "$rounds"); do
  for tool in "${tools[@]}"; do
    dir=$work/flows-$tool
    start_collector "$dir"
    TIMEFORMAT='%R %U %S'
    if ! { time run_tool "$tool" >"$work/$tool.log" 2>&1; } 2>"$work/time.txt"; then
      echo "compare: $tool failed (round $round):" >&2
      tail -5 "$work/$tool.log" >&2
      stop_collector
      continue
    fi
    stop_collector
    read -r wall user sys <"$work/time.txt"
    read -r records got_packets got_bytes got_flows < <(nfdump_totals "$dir")
    echo "$tool $round $wall $user $sys $records $got_packets $got_bytes $got_flows" >>"$results"
    echo "round $round: $tool ${wall}s wall, $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')s CPU" >&2
  done
done

# --- report -----------------------------------------------------------------------------------
awk -v P="$truth_packets" -v B="$truth_bytes" -v F="$truth_flows" -v order="${tools[*]}" '
function median(list,    a, n, i, j, t) {
  n = split(list, a, " ")
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
  wall[$1] = wall[$1] " " $3; cpu[$1] = cpu[$1] " " ($4 + $5); runs[$1]++
  ok = ($7 == P && $8 == B && $9 == F)
  if (!ok) bad[$1] = bad[$1] sprintf(" round %d: %d records, %d packets, %d bytes, %d flows;", $2, $6, $7, $8, $9)
  last[$1] = sprintf("%d/%d/%d", $7, $8, $9); recs[$1] = $6
}
END {
  n = split(order, names, " ")
  printf "\n%-14s %5s %9s %9s %12s %12s %8s %8s  %s\n", "tool", "runs", "wall s", "CPU s", "pkt/s wall", "pkt/s CPU", "x nfpcapd", "(CPU)", "totals vs truth"
  base = ("nfpcapd" in runs) ? "nfpcapd" : "nfpcapd-w"
  base_w = (base in runs) ? P / median(wall[base]) : 0
  base_c = (base in runs) ? P / median(cpu[base]) : 0
  for (i = 1; i <= n; i++) {
    t = names[i]
    if (!(t in runs)) { printf "%-14s failed every run\n", t; failed = 1; continue }
    w = median(wall[t]); c = median(cpu[t])
    pw = P / w; pc = c > 0 ? P / c : 0
    rw = base_w ? sprintf("%.2f", pw / base_w) : "-"
    rc = base_c && pc ? sprintf("%.2f", pc / base_c) : "-"
    check = (t in bad) ? "MISMATCH" bad[t] : sprintf("exact (%d records)", recs[t])
    if (t in bad) failed = 1
    printf "%-14s %5d %9.3f %9.3f %12.0f %12.0f %8s %8s  %s\n", t, runs[t], w, c, pw, pc, rw, rc, check
  }
  # The speed targets (docs/BENCHMARKS.md), as ratios of medians.
  if (("flowexport" in runs) && base_c && median(cpu["flowexport"]) > 0) {
    r = P / median(cpu["flowexport"]) / base_c
    printf "\ntarget: flowexport -r >= 10x %s packets per CPU-second: %.2fx, %s\n", base, r, (r >= 10 ? "met" : "NOT met")
  }
  if (("flowexport" in runs) && ("flowexport-t2" in runs)) {
    r = median(wall["flowexport"]) / median(wall["flowexport-t2"])
    printf "target: --threads 2 >= 1.7x one thread (wall clock): %.2fx, %s\n", r, (r >= 1.7 ? "met" : "NOT met")
  }
  printf "\ntruth: %d flows, %d packets, %d bytes. Medians over runs; flows = nfdump -a (5-tuple).\n", F, P, B
  if (base_w) printf "ratios against %s.\n", base
  printf "pmacctd wall time includes its fixed shutdown wait; compare it by CPU time.\n"
  exit failed
}' "$results"
