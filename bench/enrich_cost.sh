#!/bin/bash
# What enrichment costs, on the same inputs, in one run: CPU-seconds with and without the
# enrichment options, alternating A B A B so drift hits both, and the ratio (with / without).
#  - flowexport -r on compare.sh's capture (nf-trafgen, seed 5), -T ng_netflow, exporting to a
#    UDP port nobody reads; with --routes (the 2002 RIB of ../shared/corpus/enrich), whose load
#    is part of the run.
#  - flowcollect -r on collect_bench.sh's export stream (export.pcap, made by collect_bench.sh
#    -w DIR when absent), CSV to /dev/null; with --routes, and with --routes, --asn-db and
#    --geo-db (the RIB and MaxMind's test databases); once, and the stream read 20 times so the
#    one-time load is amortized; and the load alone (an input without records).
#   bench/enrich_cost.sh [-b BUILD] [-w DIR] [-r ROUNDS] [-n PACKETS] [-f FLOWS]
# -w DIR keeps the inputs between runs (default: a temporary directory, removed at the end).
# CPU seconds are the child's user+sys (GNU time). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build work='' rounds=5 packets=2000000 flows=120000
while getopts "b:w:r:n:f:h" o; do
  case $o in
    b) build=$OPTARG ;; w) work=$OPTARG ;; r) rounds=$OPTARG ;; n) packets=$OPTARG ;;
    f) flows=$OPTARG ;; *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done
enrich=../shared/corpus/enrich
rib=$enrich/bgpdump/bview.20020722.2337.gz
for f in "$rib" "$enrich/maxmind/GeoLite2-ASN-Test.mmdb" "$enrich/maxmind/GeoLite2-Country-Test.mmdb"; do
  [ -f "$f" ] || { echo "enrich_cost: $f not found (../shared/corpus/enrich)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "enrich_cost: GNU time missing (apt-get install time)" >&2; exit 2; }
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/nf-enrich-cost-XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"

pcap=$work/compare-$packets-$flows.pcap
if [ ! -s "$pcap" ]; then
  "$build/tools/trafgen/nf-trafgen" -o "$pcap" -n "$packets" -f "$flows" --seed 5 \
    --ipv6-ratio 0.3 --vlan-ratio 0.1 --rate 1000000 --max-flow-packets 50000 -q
fi
if [ ! -s "$work/export.pcap" ]; then
  bench/collect_bench.sh -b "$build" -w "$work" -R "" >/dev/null
fi
cat "$pcap" "$work/export.pcap" >/dev/null  # page cache

# cpu_seconds CMD...: user+sys of one run (the command's output discarded).
cpu_seconds() {
  /usr/bin/time -f '%U %S' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" ||
    { echo "enrich_cost: failed: $*" >&2; cat "$work/stderr" >&2; exit 1; }
  awk '{ printf "%.3f\n", $1 + $2 }' "$work/time"
}

# compare NAME "BASE COMMAND" "EXTRA ARGS": ROUNDS pairs, the median of each side and of the
# pairwise ratios.
compare() {
  local name=$1 base=$2 extra=$3 a b ratios='' as='' bs=''
  for ((i = 0; i < rounds; i++)); do
    # shellcheck disable=SC2086
    a=$(cpu_seconds $base)
    # shellcheck disable=SC2086
    b=$(cpu_seconds $base $extra)
    as="$as $a" bs="$bs $b"
    ratios="$ratios $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')"
  done
  median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  printf '%-34s without %6.3f s  with %6.3f s  with/without %s (pairs:%s)\n' "$name" \
    "$(echo "$as" | median)" "$(echo "$bs" | median)" "$(echo "$ratios" | median)" "$ratios"
}

port=$(( 20000 + RANDOM % 20000 ))
echo "inputs: $pcap ($(du -h "$pcap" | cut -f1)), $work/export.pcap ($(du -h "$work/export.pcap" | cut -f1)); $rounds rounds"
compare "flowexport -r -T ng_netflow" \
  "$build/exporter/flowexport -r $pcap -c 127.0.0.1:$port -T ng_netflow --max-export-rate 0 --no-progress" \
  "--routes $rib"
mmdbs="--asn-db $enrich/maxmind/GeoLite2-ASN-Test.mmdb --geo-db $enrich/maxmind/GeoLite2-Country-Test.mmdb"
collect="$build/collector/flowcollect -o /dev/null -q --no-progress"
compare "flowcollect -r (CSV), --routes" "$collect -r $work/export.pcap" "--routes $rib"
compare "flowcollect -r (CSV), all sources" "$collect -r $work/export.pcap" "--routes $rib $mmdbs"
# The same stream read 20 times over (-r is repeatable): the one-time load is amortized, so the
# ratio is the cost per record a long-running collector pays.
twenty=$(for _ in $(seq 20); do printf -- '-r %s ' "$work/export.pcap"; done)
compare "flowcollect 20x stream, --routes" "$collect $twenty" "--routes $rib"
compare "flowcollect 20x stream, all sources" "$collect $twenty" "--routes $rib $mmdbs"
# What the load alone costs: an input with no records.
empty=$work/empty.pcap
[ -s "$empty" ] || python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))' >"$empty"
compare "load only: --routes (2002 RIB)" "$collect -r $empty" "--routes $rib"
