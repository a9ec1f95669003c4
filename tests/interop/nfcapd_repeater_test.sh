#!/bin/bash
# Real exporters (softflowd, pmacctd's nfprobe, our flowexport) send to
# nfcapd, which repeats every datagram to flowcollect (-R); flowcollect's totals must equal
# what nfdump reads from nfcapd's files for the same stream. Loopback only, every wait bounded.
#   nfcapd_repeater_test.sh BUILD_DIR   (generates its capture with nf-trafgen)
set -u
BUILD=$1
FLOWEXPORT=$BUILD/exporter/flowexport
FLOWCOLLECT=$BUILD/collector/flowcollect
for t in nfcapd nfdump python3; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed (scripts/setup-deps.sh lists it)"; exit 77; }
done
work=$(mktemp -d /tmp/nf-repeater-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
CAPTURE=$work/mixed.pcap
"$BUILD/tools/trafgen/nf-trafgen" -o "$CAPTURE" -n 30000 -f 1500 --ipv6-ratio 0.3 --vlan-ratio 0.1 --seed 5 -q ||
  { echo "FAIL: nf-trafgen"; exit 1; }

# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/loopback_lib.sh"

failures=0
run_case() {  # name, exporter command template (PORT is substituted)
  local name=$1 cmd=$2 dir="$work/$1"
  mkdir -p "$dir/nf"
  local p_nfcapd p_collect
  p_nfcapd=$(free_port)
  p_collect=$(free_port)
  "$FLOWCOLLECT" -l "127.0.0.1:$p_collect" -o "$dir/out.csv" --stats-json "$dir/stats.json" \
    2>"$dir/collect.log" &
  local collect_pid=$!
  pids+=("$collect_pid")
  wait_for_udp_port "$p_collect" || { echo "FAIL $name: flowcollect did not bind"; failures=$((failures+1)); return; }
  nfcapd -b 127.0.0.1 -p "$p_nfcapd" -w "$dir/nf" -R "127.0.0.1/$p_collect" >"$dir/nfcapd.log" 2>&1 &
  local nfcapd_pid=$!
  pids+=("$nfcapd_pid")
  wait_for_udp_port "$p_nfcapd" || { echo "FAIL $name: nfcapd did not bind"; failures=$((failures+1)); return; }
  (cd "$dir" && timeout 300 bash -c "${cmd//PORT/$p_nfcapd}") >"$dir/exporter.log" 2>&1
  wait_drained "$p_nfcapd"
  wait_drained "$p_collect"
  kill -TERM "$nfcapd_pid"
  timeout 20 tail --pid="$nfcapd_pid" -f /dev/null
  wait_drained "$p_collect"
  kill -TERM "$collect_pid"
  timeout 20 tail --pid="$collect_pid" -f /dev/null
  # nfdump's summary line: "Summary: total flows: N, total bytes: N, total packets: N, ..."
  local summary flows bytes packets
  summary=$(nfdump -R "$dir/nf" -q -o 'fmt:%pkt %byt' 2>/dev/null | awk '{p+=$1; b+=$2; n++} END {printf "%d %d %d", n, p, b}')
  read -r flows packets bytes <<<"$summary"
  local c_records c_packets c_bytes
  c_records=$(json_total "$dir/stats.json" records)
  c_packets=$(json_total "$dir/stats.json" packets)
  c_bytes=$(json_total "$dir/stats.json" bytes)
  printf '%-12s nfdump: %8s flows %10s packets %12s bytes | flowcollect: %8s records %10s packets %12s bytes\n' \
    "$name" "$flows" "$packets" "$bytes" "$c_records" "$c_packets" "$c_bytes"
  if [ -z "$flows" ] || [ "$flows" = 0 ]; then
    echo "FAIL $name: nfdump read no flows"; failures=$((failures+1)); return
  fi
  if [ "$flows" != "$c_records" ] || [ "$packets" != "$c_packets" ] || [ "$bytes" != "$c_bytes" ]; then
    echo "FAIL $name: totals differ"; failures=$((failures+1))
  fi
}

run_case flowexport "'$FLOWEXPORT' -r '$CAPTURE' -c 127.0.0.1:PORT"
if command -v softflowd >/dev/null; then
  run_case softflowd "softflowd -r '$CAPTURE' -n 127.0.0.1:PORT -v 9 -d -c ./sfd.ctl -p ./sfd.pid"
else
  echo "softflowd not installed: case skipped"
fi
if command -v pmacctd >/dev/null; then
  cat >"$work/pmacctd.conf" <<CONF
daemonize: false
pcap_savefile: $CAPTURE
pcap_savefile_wait: false
plugins: nfprobe
nfprobe_receiver: 127.0.0.1:@RCV@
nfprobe_version: 9
nfprobe_timeouts: expint=1
CONF
  run_case pmacctd "sed 's/@RCV@/PORT/' '$work/pmacctd.conf' > p.conf && pmacctd -f p.conf"
else
  echo "pmacctd not installed: case skipped"
fi
if [ "$failures" -ne 0 ]; then echo "$failures case(s) failed"; exit 1; fi
echo "all cases: flowcollect totals equal nfdump's"
