#!/bin/bash
# Querying stored flows: flowcollect's raw datagram store against nfcapd's files, same stream.
#  1. nf-trafgen writes a capture of -n RECORDS flows; flowexport exports it (NetFlow v9, at
#     -x datagrams/s so nothing is lost) to nfcapd -y (LZ4), which repeats every datagram (-R)
#     to an uncompressed nfcapd and to two `flowcollect --store` (plain pcap, and
#     --store-compress zstd). Files rotate every 5 s on every side. All four must hold exactly
#     the records flowexport sent.
#  2. The query "top 10 source addresses by bytes of TCP to port 443", best CPU-seconds
#     (user+sys of the process and all its threads) of -r REPEAT runs:
#       nfdump -R DIR -s srcip/bytes -n 10 'proto tcp and dst port 443'
#       flowcollect -r STORE -f 'proto tcp and dst port 443' -A src_addr --top 10
#     (--read-threads 1 and the default), with the ratio flowcollect/nfdump (LZ4 files); the two
#     top-10 lists must name the same addresses.
#  3. Storage: bytes per record of each.
#   bench/query_bench.sh [-b BUILD] [-n RECORDS] [-r REPEAT] [-x RATE] [-w DIR] [-k]
# -n: flows in the capture = records exported (default 5000000; 200000 for a quick run).
# -x: flowexport's datagrams per second (default 10000). -w DIR: work in DIR and reuse its stores
# when a previous run completed them (implies -k). Loopback only; every wait is bounded.
set -u
BUILD=build RECORDS=5000000 REPEAT=3 RATE=10000 WORK='' KEEP=0
while getopts "b:n:r:x:w:k" o; do
  case $o in
    b) BUILD=$OPTARG ;; n) RECORDS=$OPTARG ;; r) REPEAT=$OPTARG ;; x) RATE=$OPTARG ;;
    w) WORK=$OPTARG; KEEP=1 ;; k) KEEP=1 ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
for t in nfcapd nfdump python3; do
  command -v $t >/dev/null || { echo "query_bench: $t missing (scripts/setup-deps.sh)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "query_bench: GNU time missing (apt-get install time)" >&2; exit 1; }
FLOWCOLLECT=$BUILD/collector/flowcollect
for b in "$FLOWCOLLECT" "$BUILD/exporter/flowexport" "$BUILD/tools/trafgen/nf-trafgen"; do
  [ -x "$b" ] || { echo "query_bench: $b not built" >&2; exit 1; }
done
if [ -n "$WORK" ]; then mkdir -p "$WORK"; work=$WORK; else
  work=$(mktemp -d "${TMPDIR:-/tmp}/nf-query-bench-XXXXXX"); fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ $KEEP = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_bound() { for _ in $(seq 100); do ss -Hlun "sport = :$1" | grep -q . && return 0; sleep 0.05; done; return 1; }
wait_drained() { for _ in $(seq 200); do q=$(ss -Hlun "sport = :$1" | awk '{print $2}' | head -1); [ "${q:-0}" = 0 ] && return 0; sleep 0.05; done; }
stop() { kill -TERM "$1" 2>/dev/null; timeout 60 tail --pid="$1" -f /dev/null; }
json() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v=v[k]
print(v)' "$@"; }
nfdump_records() { nfdump -R "$1" -q -N -o 'fmt:%pkt' 2>/dev/null | grep -c '^ *[0-9]'; }

NF_LZ4=$work/nfcapd-lz4 NF_PLAIN=$work/nfcapd-plain
ST_PLAIN=$work/store-plain ST_ZSTD=$work/store-zstd
if [ -s "$work/complete" ]; then
  echo "== reusing the stores in $work" >&2
else
  rm -rf "$NF_LZ4" "$NF_PLAIN" "$ST_PLAIN" "$ST_ZSTD"
  mkdir -p "$NF_LZ4" "$NF_PLAIN"
  packets=$((RECORDS * 7 / 5))
  echo "== nf-trafgen: $RECORDS flows, $packets packets" >&2
  # --snaplen 80 keeps every header (VLAN, IPv6, TCP) and the pcap small; byte counts come from
  # the IP length.
  "$BUILD/tools/trafgen/nf-trafgen" -o "$work/traffic.pcap" --truth /dev/null -n "$packets" \
    -f "$RECORDS" --snaplen 80 --rate 1000000 --ipv6-ratio 0.3 --vlan-ratio 0.1 --seed 5 -q || exit 1
  p_lz4=$(free_port) p_plain=$(free_port) p_st=$(free_port) p_stz=$(free_port)
  "$FLOWCOLLECT" -l "127.0.0.1:$p_st" --store "$ST_PLAIN" --store-rotate 5 -o /dev/null -q \
    --stats-json "$work/store-plain.json" 2>"$work/store-plain.log" & pids+=($!); fc1=$!
  "$FLOWCOLLECT" -l "127.0.0.1:$p_stz" --store "$ST_ZSTD" --store-rotate 5 --store-compress \
    -o /dev/null -q --stats-json "$work/store-zstd.json" 2>"$work/store-zstd.log" & pids+=($!); fc2=$!
  nfcapd -b 127.0.0.1 -p "$p_plain" -w "$NF_PLAIN" -t 5 -B 134217728 >"$work/nfcapd-plain.log" 2>&1 &
  pids+=($!); nf2=$!
  for p in $p_st $p_stz $p_plain; do wait_bound "$p" || { echo "a receiver did not bind" >&2; exit 1; }; done
  nfcapd -b 127.0.0.1 -p "$p_lz4" -w "$NF_LZ4" -t 5 -y -B 134217728 -R "127.0.0.1/$p_plain" \
    -R "127.0.0.1/$p_st" -R "127.0.0.1/$p_stz" >"$work/nfcapd-lz4.log" 2>&1 & pids+=($!); nf1=$!
  wait_bound "$p_lz4" || { echo "nfcapd did not bind" >&2; exit 1; }
  echo "== exporting at $RATE datagrams/s" >&2
  "$BUILD/exporter/flowexport" -r "$work/traffic.pcap" -c "127.0.0.1:$p_lz4" --max-export-rate "$RATE" \
    --inactive-timeout 2 --no-progress --stats-json "$work/export.json" 2>"$work/export.log" ||
    { echo "flowexport failed" >&2; exit 1; }
  wait_drained "$p_lz4"; stop "$nf1"
  for p in $p_plain $p_st $p_stz; do wait_drained "$p"; done
  stop "$nf2"; stop "$fc1"; stop "$fc2"
  sent=$(json "$work/export.json" records_sent)
  got_lz4=$(nfdump_records "$NF_LZ4")
  got_plain=$(nfdump_records "$NF_PLAIN")
  got_st=$(json "$work/store-plain.json" totals records)
  got_stz=$(json "$work/store-zstd.json" totals records)
  printf '%-48s %12s\n' "records flowexport sent" "$sent" "nfcapd -y (LZ4)" "$got_lz4" \
    "nfcapd (uncompressed)" "$got_plain" "flowcollect --store" "$got_st" \
    "flowcollect --store --store-compress" "$got_stz"
  for g in "$got_lz4" "$got_plain" "$got_st" "$got_stz"; do
    [ "$g" = "$sent" ] || { echo "records were lost (lower -x); not measuring" >&2; exit 1; }
  done
  echo "$sent" >"$work/complete"
fi
records=$(cat "$work/complete")
cat "$NF_LZ4"/nfcapd.* "$NF_PLAIN"/nfcapd.* >/dev/null 2>&1
find "$ST_PLAIN" "$ST_ZSTD" -type f -exec cat {} + >/dev/null  # page cache, for every run alike

FILTER='proto tcp and dst port 443'
# best CPU-seconds and that run's wall seconds of REPEAT runs; the last run's output in $work/out.
measure() {
  local best='' wall='' cpu
  for _ in $(seq "$REPEAT"); do
    /usr/bin/time -f '%U %S %e' -o "$work/time" "$@" >"$work/out" 2>"$work/err" ||
      { echo "failed: $*" >&2; cat "$work/err" >&2; exit 1; }
    cpu=$(awk '{printf "%.3f", $1 + $2}' "$work/time")
    if [ -z "$best" ] || awk -v a="$cpu" -v b="$best" 'BEGIN {exit !(a < b)}'; then
      best=$cpu wall=$(awk '{print $3}' "$work/time")
    fi
  done
  echo "$best $wall"
}
# The top-10 source addresses (one per line, sorted) from the last run's output.
nfdump_top() { awk -F, 'NR == 1 {next} NF < 5 {exit} {print $5}' "$work/out" | sort; }
flowcollect_top() { awk -F, 'NR > 1 {print $1}' "$work/out" | sort; }

printf '\n%s, %s records, best of %s\n' "query: top 10 src addresses by bytes, '$FILTER'" "$records" "$REPEAT"
printf '%-48s %10s %8s %14s %16s\n' "" "CPU s" "wall s" "records/CPU-s" "vs nfdump (LZ4)"
row() {  # label, "cpu wall", baseline cpu
  printf '%-48s %10s %8s %14.0f %15.2fx\n' "$1" "${2% *}" "${2#* }" \
    "$(awk -v r="$records" -v c="${2% *}" 'BEGIN {print r / (c > 0 ? c : 0.001)}')" \
    "$(awk -v c="${2% *}" -v b="$3" 'BEGIN {print c / (b > 0 ? b : 0.001)}')"
}
base=$(measure nfdump -R "$NF_LZ4" -s srcip/bytes -n 10 -N -o csv "$FILTER")
nfdump_top >"$work/top.nfdump"
base_cpu=${base% *}
row "nfdump -R (nfcapd -y, LZ4)" "$base" "$base_cpu"
row "nfdump -R (nfcapd, uncompressed)" \
  "$(measure nfdump -R "$NF_PLAIN" -s srcip/bytes -n 10 -N -o csv "$FILTER")" "$base_cpu"
mismatch=0
for store in plain zstd; do
  dir=$work/store-$store
  for threads in 1 0; do
    label="flowcollect -r store ($store), threads $([ $threads = 0 ] && echo default || echo 1)"
    row "$label" "$(measure "$FLOWCOLLECT" -r "$dir" --read-threads $threads -f "$FILTER" \
      -A src_addr --top 10 -q --no-progress -o -)" "$base_cpu"
    flowcollect_top >"$work/top.flowcollect"
    cmp -s "$work/top.nfdump" "$work/top.flowcollect" || mismatch=1
  done
done
echo "(target for flowcollect/nfdump: <= 0.20)"
# Where the time goes: the same filter without the top-10 (nfdump counts the matches; flowcollect
# sums them per protocol, a handful of groups), so decoding and filtering alone compare.
printf '%-48s\n' "filter only, no top-10:"
filter_base=$(measure nfdump -R "$NF_LZ4" -N -o null "$FILTER")
row "  nfdump -R (LZ4) -o null" "$filter_base" "${filter_base% *}"
for store in plain zstd; do
  row "  flowcollect ($store) -A protocol, threads 1" "$(measure "$FLOWCOLLECT" \
    -r "$work/store-$store" --read-threads 1 -f "$FILTER" -A protocol -q --no-progress -o -)" \
    "${filter_base% *}"
done
if [ $mismatch = 0 ]; then
  echo "top-10 lists: the same $(wc -l <"$work/top.nfdump") addresses in nfdump and flowcollect"
else
  echo "top-10 lists DIFFER:"; diff "$work/top.nfdump" "$work/top.flowcollect"
fi

printf '\n%-48s %6s %14s %12s\n' "storage" files bytes bytes/record
storage() {  # label, directory, file name pattern
  local n b
  n=$(find "$2" -type f -name "$3" | wc -l)
  b=$(find "$2" -type f -name "$3" -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}')
  printf '%-48s %6s %14s %12.1f\n' "$1" "$n" "$b" "$(awk -v b="$b" -v r="$records" 'BEGIN {print b / r}')"
}
storage "nfcapd (uncompressed)" "$NF_PLAIN" 'nfcapd.2*'
storage "nfcapd -y (LZ4)" "$NF_LZ4" 'nfcapd.2*'
storage "flowcollect --store (pcap)" "$ST_PLAIN" 'flows-*'
storage "flowcollect --store --store-compress (zstd)" "$ST_ZSTD" 'flows-*'
[ $mismatch = 0 ]
