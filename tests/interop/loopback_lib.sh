# shellcheck shell=bash
# Shared by the interop scripts that run collectors on loopback: free ports, bounded waits for a
# UDP port to be bound and for its queue to drain, and reading flowcollect's --stats-json totals.
# Sourced, not run; needs python3 and ss.

free_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_for_udp_port() {  # port: until something is bound, at most 5 s
  for _ in $(seq 50); do
    ss -Hulpn "sport = :$1" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}
# Waits until no datagram is queued on the port (the receiver has read everything), at most 10 s.
wait_drained() {
  for _ in $(seq 100); do
    q=$(ss -Huln "sport = :$1" 2>/dev/null | awk '{print $2}' | head -1)
    [ "${q:-0}" = 0 ] && return 0
    sleep 0.1
  done
}
json_total() { python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["totals"][sys.argv[2]])' "$1" "$2"; }
