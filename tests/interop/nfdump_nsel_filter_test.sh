#!/bin/bash
# Firewall and NAT filters (NSEL, NEL) against nfdump 1.7.1: the Cisco ASA and Check Point
# captures of the shared corpus go to nfcapd over loopback; for each expression below,
# `nfdump -R` over its files and `flowcollect -r CAPTURES -f EXPR` must select the same records
# with the same byte sum.
#   nfdump_nsel_filter_test.sh BUILD_DIR
# Exit 77 (skip) when nfcapd, nfdump, python3 or the corpus is missing. Loopback only; every wait
# bounded.
set -u
BUILD=$1
FLOWCOLLECT=$BUILD/collector/flowcollect
CORPUS=$(dirname "$0")/../../../shared/corpus/netflow
for t in nfcapd nfdump python3; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed (scripts/setup-deps.sh lists it)"; exit 77; }
done
captures=("$CORPUS/logstash/nf9_cisco_asa_1.pcap" "$CORPUS/logstash/nf9_cisco_asa_2.pcap"
          "$CORPUS/akvorado/nat.pcap")
for c in "${captures[@]}"; do
  [ -f "$c" ] || { echo "SKIP: $c not found (../shared/corpus is not here)"; exit 77; }
done
[ -x "$FLOWCOLLECT" ] || { echo "FAIL: $FLOWCOLLECT not built"; exit 1; }
work=$(mktemp -d /tmp/nf-nsel-XXXXXX)
nfcapd_pid=
cleanup() {
  [ -n "$nfcapd_pid" ] && kill "$nfcapd_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/loopback_lib.sh"

# Every UDP payload of the (Ethernet/IPv4/UDP) captures, in order, to nfcapd.
cat >"$work/send.py" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for path in sys.argv[2:]:
    d = open(path, "rb").read()
    off = 24
    while off + 16 <= len(d):
        incl = struct.unpack("<I", d[off + 8:off + 12])[0]
        frame = d[off + 16:off + 16 + incl]
        off += 16 + incl
        ihl = (frame[14] & 15) * 4
        s.sendto(frame[14 + ihl + 8:], ("127.0.0.1", port))
        time.sleep(0.005)
PY
mkdir -p "$work/nf"
port=$(free_port)
nfcapd -p "$port" -b 127.0.0.1 -l "$work/nf" -t 60 >"$work/nfcapd.log" 2>&1 &
nfcapd_pid=$!
wait_for_udp_port "$port" || { echo "FAIL: nfcapd did not bind port $port"; exit 1; }
python3 "$work/send.py" "$port" "${captures[@]}"
wait_drained "$port"
kill -TERM "$nfcapd_pid"
timeout 20 tail --pid="$nfcapd_pid" -f /dev/null
nfcapd_pid=

# records and byte sum of each side, "N BYTES"
nfdump_count() {
  nfdump -R "$work/nf" -q -N -o 'fmt:%byt' "$1" 2>/dev/null | grep -v 'No matching' |
    awk 'NF {n++; b += $1} END {print n + 0, b + 0}'
}
flowcollect_count() {
  local args=()
  for c in "${captures[@]}"; do args+=(-r "$c"); done
  "$FLOWCOLLECT" "${args[@]}" -q --columns bytes -o - -f "$1" 2>/dev/null | tail -n +2 |
    awk 'NF {n++; b += $1} END {print n + 0, b + 0}'
}

expressions=$(cat <<'EOF'
any
asa event create
asa event term
asa event delete
asa event ignore
asa event deny
asa event > 1
asa event 5
asa event denied ingress
asa xevent 2025
asa xevent > 2025
asa xevent < 2020
nat event add
nat event create
nat event delete
nat event invalid
nat event 1
src xip 192.168.0.2
dst xip 2.2.2.11
xip 164.164.37.11
nip 10.143.52.29
src xip 0.0.0.0
xip in [192.168.23.0/24 2.2.2.11]
xnet 192.168.0.0/24
src xnet 10.0.0.0/8
dst xnet 164.164.0.0/16
src xport 61776
dst xport 80
xport 0
nport 53
src and dst xport 0
src xport > 50000
ingress vrf 0
ingress vrf > 0
egress vrf 0
out bytes > 0
out bytes > 6000
bytes > 60
proto icmp and asa event delete
asa event create and dst xport 80
not nat event add and xnet 192.168.0.0/16
EOF
)
failures=0
checked=0
total=$(nfdump_count any)
[ "${total%% *}" -ge 40 ] || { echo "FAIL: nfcapd stored only '$total' (expected 42 records)"; exit 1; }
while IFS= read -r e; do
  [ -z "$e" ] && continue
  checked=$((checked + 1))
  want=$(nfdump_count "$e")
  got=$(flowcollect_count "$e")
  if [ "$want" != "$got" ]; then
    echo "FAIL: '$e': nfdump $want, flowcollect $got (records bytes)"
    failures=$((failures + 1))
  fi
done <<<"$expressions"
if [ "$failures" -ne 0 ]; then echo "$failures of $checked expressions differ"; exit 1; fi
echo "all $checked NSEL/NEL expressions select the same records and bytes in flowcollect and nfdump"
