#!/bin/sh
# Regenerates pcaps/demo.pcap and pcaps/demo.pcap.truth.csv with the project's traffic generator.
# The output is fully determined by the options below (fixed seed): running this again gives
# byte-identical files, so a changed demo capture always means a changed generator.
# Usage: scripts/make-demo-pcap.sh [BUILD_DIR [OUTPUT]]
#   BUILD_DIR defaults to $BUILD or ./build; OUTPUT to pcaps/demo.pcap (the truth goes next to
#   it as OUTPUT.truth.csv). A test regenerates into a temporary OUTPUT and compares bytes.
set -eu
cd "$(dirname "$0")/.."
build=${1:-${BUILD:-build}}
output=${2:-pcaps/demo.pcap}
gen="$build/tools/trafgen/nf-trafgen"
if [ ! -x "$gen" ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" >/dev/null
  cmake --build "$build" --target nf-trafgen -j2 >/dev/null
fi
# ~2,000 packets in ~100 flows over 2 s: mixed IPv4/IPv6, TCP/UDP/ICMP, some 802.1Q tags.
"$gen" --output "$output" \
  --packets 2000 --flows 100 --seed 2024 \
  --ipv6-ratio 0.4 --tcp 0.55 --udp 0.3 --icmp 0.15 \
  --vlan-ratio 0.15 --vlans 3 --pareto-alpha 1.2 --max-flow-packets 400 \
  --start 2024-01-01T12:00:00Z --rate 1000
