#!/bin/bash
# Collector decoding speed, same input for both tools, in one run:
#  1. nf-trafgen writes a traffic capture; flowexport exports it as NetFlow v9 to nfcapd on
#     loopback while dumpcap records the export datagrams (export.pcap).
#  2. flowcollect -r export.pcap: records per CPU-second (decode + CSV to /dev/null, and
#     decode + aggregation).
#  3. The same export stream sent at stepped datagram rates (flowexport --max-export-rate; 0 =
#     unlimited) to nfcapd and to flowcollect -l, one at a time: records received, loss and the
#     receiver's CPU-seconds, so records per CPU-second and the highest zero-loss rate are
#     compared on the same stream.
#  4. With -S PASSES: the receivers saturated. The captured export datagrams are sent PASSES
#     times over as fast as one core can send them (nf-blast, sendmmsg), more than either can
#     take, so both run flat out and records per CPU-second is their decoding capacity on the
#     same input (what they receive; the rest is counted as lost by the kernel). flowcollect
#     runs three ways: raw CSV of every record, -A protocol (few groups, indexed directly) and
#     -A src_addr/24,dst_port (hundreds of thousands of hashed groups).
#   bench/collect_bench.sh [-b BUILD] [-n PACKETS] [-f FLOWS] [-R "RATES"] [-r REPEAT] [-k]
#                          [-w DIR] [-S PASSES]
# -r: run every measurement REPEAT times (CPU times on a shared machine vary); the stream and
# saturation tables end with each receiver's median and its ratio to nfcapd's.
# -w DIR: work in DIR and reuse its traffic.pcap/export.pcap/export.json when present (e.g. a
# directory kept with -k), so several runs measure the same stream.
# CPU seconds: getrusage of the child (/usr/bin/time) for -r. For the receivers, the run time of
# all their threads (/proc/PID/task/*/schedstat, nanoseconds) from just before the stream starts
# to just before SIGTERM: a collector runs for months, so neither side's start-up (dynamic
# linking, option parsing) nor its exit flush belongs to the cost of a stream. The "with
# start-up" column counts from the receiver's launch instead. A thread that ended during the
# stream would be missed; neither receiver ends one during a stream (nfcapd keeps the same two
# threads from before a stream to after it, flowcollect keeps its threads until it stops).
# Needs dumpcap's capture rights on lo (root). Loopback only; every wait is bounded.
set -u
BUILD=build PACKETS=1000000 FLOWS=120000 RATES="20000 50000 0" KEEP=0 REPEAT=1 WORK='' PASSES=0
while getopts "b:n:f:R:r:w:S:k" o; do
  case $o in
    b) BUILD=$OPTARG ;; n) PACKETS=$OPTARG ;; f) FLOWS=$OPTARG ;; R) RATES=$OPTARG ;; k) KEEP=1 ;;
    r) REPEAT=$OPTARG ;; w) WORK=$OPTARG; KEEP=1 ;; S) PASSES=$OPTARG ;;
    *) sed -n '2,23p' "$0"; exit 2 ;;
  esac
done
for t in nfcapd nfdump dumpcap capinfos python3; do
  command -v $t >/dev/null || { echo "collect_bench: $t missing (scripts/setup-deps.sh)" >&2; exit 1; }
done
if [ -n "$WORK" ]; then mkdir -p "$WORK"; work=$WORK; else
  work=$(mktemp -d "${TMPDIR:-/tmp}/nf-collect-bench-XXXXXX"); fi
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; [ $KEEP = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_bound() { for _ in $(seq 100); do ss -Hlun "sport = :$1" | grep -q . && return 0; sleep 0.05; done; return 1; }
wait_drained() { for _ in $(seq 200); do q=$(ss -Hlun "sport = :$1" | awk '{print $2}' | head -1); [ "${q:-0}" = 0 ] && return 0; sleep 0.05; done; }
# Run time of every thread of PID so far, in seconds (schedstat: exact, not sampled per tick).
cpu_seconds() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.4f", s / 1e9}'; }
# Prints "STREAM_CPU TOTAL_CPU": since `$2` (cpu_seconds before the stream) and since launch.
stop() {
  local c; c=$(cpu_seconds "$1"); kill -TERM "$1"; timeout 30 tail --pid="$1" -f /dev/null
  python3 -c "print('%.4f %.4f' % ($c - $2, $c))"
}

if [ -s "$work/export.pcap" ] && [ -s "$work/export.json" ] && [ -s "$work/traffic.pcap" ]; then
  echo "== reusing $work/export.pcap" >&2
else
echo "== generating $PACKETS packets / $FLOWS flows" >&2
"$BUILD/tools/trafgen/nf-trafgen" -o "$work/traffic.pcap" -n "$PACKETS" -f "$FLOWS" -q || exit 1
port=$(free_port)
mkdir -p "$work/nf0"
nfcapd -b 127.0.0.1 -p "$port" -w "$work/nf0" -B 134217728 >"$work/nf0.log" 2>&1 & pids+=($!); nf0=$!
wait_bound "$port" || { echo "nfcapd did not bind" >&2; exit 1; }
dumpcap -q -i lo -f "udp dst port $port" -B 256 -w "$work/export.pcap" >"$work/dumpcap.log" 2>&1 & pids+=($!); dc=$!
sleep 2
"$BUILD/exporter/flowexport" -r "$work/traffic.pcap" -c "127.0.0.1:$port" --max-export-rate 20000 \
  --stats-json "$work/export.json" 2>"$work/export.log" || { echo "flowexport failed" >&2; exit 1; }
wait_drained "$port"; sleep 1
kill -TERM "$dc"; timeout 20 tail --pid="$dc" -f /dev/null
stop "$nf0" 0 >/dev/null
fi
records=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["records_sent"])' "$work/export.json")
datagrams=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["datagrams_sent"])' "$work/export.json")
captured=$(capinfos -c -M "$work/export.pcap" | awk '/Number of packets/ {print $NF}')
echo "export capture: $captured of $datagrams datagrams, $records records" >&2
[ "$captured" = "$datagrams" ] || { echo "dumpcap missed datagrams; rerun on a quieter machine" >&2; exit 1; }

printf '\n%-34s %12s %10s %16s\n' "flowcollect -r export.pcap" "records" "CPU s" "records/CPU-s"
for mode in "-o /dev/null" "-A protocol -o /dev/null"; do
 for _ in $(seq "$REPEAT"); do
  # shellcheck disable=SC2086  # $mode is a list of options
  /usr/bin/time -f "%U %S" -o "$work/time" "$BUILD/collector/flowcollect" -r "$work/export.pcap" $mode \
    --stats-json "$work/r.json" 2>/dev/null
  cpu=$(awk '{print $1+$2}' "$work/time")
  got=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["totals"]["records"])' "$work/r.json")
  printf '%-34s %12s %10.2f %16.0f\n' "  $mode" "$got" "$cpu" "$(python3 -c "print($got/max($cpu,1e-3))")"
 done
done

rm -f "$work/stream-rates.txt"
printf '\n%-14s %-34s %12s %12s %10s %16s %14s\n' "datagrams/s" "receiver" "received" "lost" "CPU s" "records/CPU-s" \
  "with start-up"
for rate in $RATES; do
 for _ in $(seq "$REPEAT"); do
  # Raw rows go to a CSV file on disk, as nfcapd writes its files (with and without the pause
  # between drains of a steady stream); -A protocol indexes its groups directly,
  # -A src_addr/24,dst_port hashes them.
  for rx in nfcapd flowcollect "flowcollect --receive-coalesce 0" "flowcollect -A protocol" \
            "flowcollect -A src_addr/24,dst_port"; do
    p=$(free_port)
    if [ "$rx" = nfcapd ]; then
      rm -rf "$work/nf-$rate"; mkdir -p "$work/nf-$rate"  # fresh: nfdump -R reads it all
      nfcapd -b 127.0.0.1 -p "$p" -w "$work/nf-$rate" -B 134217728 >/dev/null 2>&1 & pids+=($!); rp=$!
    else
      out=/dev/null
      case "$rx" in *-A*) ;; *) out="$work/rows.csv" ;; esac
      # shellcheck disable=SC2086  # $rx carries flowcollect's output options
      "$BUILD/collector/flowcollect" ${rx#flowcollect} -l "127.0.0.1:$p" --rcvbuf 134217728 -o "$out" \
        --stats-json "$work/l-$rate.json" 2>/dev/null & pids+=($!); rp=$!
    fi
    wait_bound "$p" || { echo "$rx did not bind" >&2; exit 1; }
    c0=$(cpu_seconds "$rp")
    # The same stream every time: flowexport replays the traffic capture at this datagram rate.
    "$BUILD/exporter/flowexport" -r "$work/traffic.pcap" -c "127.0.0.1:$p" --max-export-rate "$rate" \
      2>/dev/null
    wait_drained "$p"; sleep 0.5
    read -r cpu total < <(stop "$rp" "$c0")
    if [ "$rx" = nfcapd ]; then
      got=$(nfdump -R "$work/nf-$rate" -q -o 'fmt:%pkt' 2>/dev/null | grep -c '[0-9]')
    else
      got=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["totals"]["records"])' "$work/l-$rate.json")
    fi
    rps=$(python3 -c "print(round($got/max($cpu,1e-3)))")
    printf '%-14s %-34s %12s %12s %10.3f %16.0f %14.3f\n' "${rate/#0/unlimited}" "$rx" "$got" "$((records - got))" \
      "$cpu" "$rps" "$total"
    echo "${rate/#0/unlimited}:$rx:$rps" >>"$work/stream-rates.txt"
    rm -f "$work/rows.csv"
  done
 done
done
# Medians over the rounds, and each receiver's ratio to nfcapd's median at the same rate.
python3 - "$work/stream-rates.txt" <<'PY'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    rate, name, rps = line.rstrip('\n').split(':', 2)
    rates.setdefault(rate, {}).setdefault(name, []).append(float(rps))
print('\n%-14s %-34s %16s %10s' % ('datagrams/s', 'median records/CPU-s', '', 'vs nfcapd'))
for rate, by_rx in rates.items():
    base = statistics.median(by_rx['nfcapd'])
    for name, r in by_rx.items():
        m = statistics.median(r)
        print('%-14s %-34s %16.0f %9.2fx' % (rate, name, m, m / base))
PY

[ "$PASSES" -gt 0 ] || exit 0
# ---- Saturation: both receivers flat out on the same datagrams. ----
rm -f "$work/sat-rates.txt"
printf '\n%-26s %12s %12s %10s %16s\n' "saturated ($PASSES passes)" "sent" "received" "CPU s" "records/CPU-s"
for _ in $(seq "$REPEAT"); do
  # -A protocol indexes its groups directly; -A src_addr/24,dst_port hashes them.
  for rx in nfcapd flowcollect "flowcollect -A protocol" "flowcollect -A src_addr/24,dst_port"; do
    p=$(free_port)
    if [ "$rx" = nfcapd ]; then
      rm -rf "$work/nf-sat"; mkdir -p "$work/nf-sat"
      nfcapd -b 127.0.0.1 -p "$p" -w "$work/nf-sat" -B 134217728 >/dev/null 2>&1 & pids+=($!); rp=$!
    else
      # shellcheck disable=SC2086  # $rx carries flowcollect's output options
      "$BUILD/collector/flowcollect" ${rx#flowcollect} -l "127.0.0.1:$p" --rcvbuf 134217728 -o /dev/null \
        --stats-json "$work/sat.json" 2>/dev/null & pids+=($!); rp=$!
    fi
    wait_bound "$p" || { echo "$rx did not bind" >&2; exit 1; }
    c0=$(cpu_seconds "$rp")
    sent=$("$BUILD/bench/nf-blast" -r "$work/export.pcap" -c "127.0.0.1:$p" -p "$PASSES")
    wait_drained "$p"; sleep 0.5
    read -r cpu _ < <(stop "$rp" "$c0")
    if [ "$rx" = nfcapd ]; then
      got=$(nfdump -R "$work/nf-sat" -q -o 'fmt:%pkt' 2>/dev/null | grep -c '[0-9]')
    else
      got=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["totals"]["records"])' "$work/sat.json")
    fi
    rate=$(python3 -c "print(round($got/max($cpu,1e-3)))")
    printf '%-26s %12s %12s %10.3f %16.0f\n' "  $rx" "$((sent * records / datagrams))" "$got" "$cpu" "$rate"
    echo "$rx:$rate" >>"$work/sat-rates.txt"
  done
done
# Medians over the rounds, and each receiver's ratio to nfcapd's median.
python3 - "$work/sat-rates.txt" <<'PY'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    name, rate = line.rstrip('\n').rsplit(':', 1)
    rates.setdefault(name, []).append(float(rate))
base = statistics.median(rates['nfcapd'])
print('\n%-26s %16s %10s' % ('median of %d rounds' % len(rates['nfcapd']), 'records/CPU-s', 'vs nfcapd'))
for name, r in rates.items():
    m = statistics.median(r)
    print('%-26s %16.0f %9.2fx' % ('  ' + name, m, m / base))
PY
