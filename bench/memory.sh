#!/bin/bash
# The memory target: 1,000,000 active IPv4 flows in under 128 MiB resident.
# Generates 1,000,000 single-packet UDP/IPv4 flows, runs flowexport -r with timeouts long enough
# that every flow is still in the table at the end of input, checks that all 1,000,000 were
# exported at the end (forced_end) and prints the maximum resident set size against the target.
#
# Not part of `make test` (it takes about 10 seconds and ~100 MB of temporary disk).
# Usage: bench/memory.sh [-b BUILD_DIR] [-k]
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BUILD:-build}
keep=0
while getopts "b:kh" opt; do
  case $opt in
    b) build=$OPTARG ;;
    k) keep=1 ;;
    *) sed -n '2,9p' "$0"; exit 2 ;;
  esac
done
gen=$build/tools/trafgen/nf-trafgen
exporter=$build/exporter/flowexport
if [ ! -x "$gen" ] || [ ! -x "$exporter" ]; then echo "memory: build $build first (make build)" >&2; exit 2; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nf-memory.XXXXXX")
cleanup() { if [ "$keep" -eq 0 ]; then rm -rf "$work"; else echo "memory: kept $work" >&2; fi; }
trap cleanup EXIT

flows=1000000
"$gen" -o "$work/mem.pcap" -n "$flows" -f "$flows" --ipv6-ratio 0 --tcp 0 --udp 1 --icmp 0 \
  --vlan-ratio 0 --max-gap-ms 0 --max-flow-duration-s 0 -q
# GNU time's %M: maximum resident set size in KiB. Port 9 (discard) on loopback: nothing listens.
/usr/bin/time -f "%M" -o "$work/rss" "$exporter" -r "$work/mem.pcap" -c 127.0.0.1:9 \
  --inactive-timeout 3600 --active-timeout 7200 --max-export-rate 0 \
  --stats-json "$work/stats.json" 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
forced=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["flows_expired"]["forced_end"])' "$work/stats.json")
rss_kib=$(cat "$work/rss")
awk -v kib="$rss_kib" -v forced="$forced" -v flows="$flows" 'BEGIN {
  mib = kib / 1024
  printf "flows held to the end of input: %d of %d\n", forced, flows
  printf "maximum resident set size: %d KiB (%.1f MiB), %.0f bytes per flow\n", kib, mib, kib * 1024 / flows
  ok = (forced == flows && mib < 128)
  printf "target: %d active IPv4 flows under 128 MiB resident: %s\n", flows, ok ? "met" : "NOT met"
  exit ok ? 0 : 1
}'
