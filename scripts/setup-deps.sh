#!/bin/sh
# Installs (as root) or lists (otherwise) the Debian 12 packages the build and tests need.
# Idempotent and quick when everything is present: `make test` and `make demo` run it first.
set -eu

# Build: compiler, CMake, libraries. Tests: the real peers we check ourselves against, and
# headless Chromium (with a font) to render flowcollect --report pages. Benchmarks: netsniff-ng
# replays captures faster than tcpreplay (bench/live.sh). nftables: the live NFLOG test's rule.
# Enrichment: libmaxminddb, zlib and libbz2 (MRT RIBs are often gzip or bzip2); bgpdump and
# mmdb-bin (mmdblookup) are the truth the enrichment tests compare against. The flow store:
# libzstd (--store-compress), and the zstd tool its tests decompress with. High availability:
# ucarp holds the virtual address in the collector pair's namespace test.
# ClickHouse over HTTPS and the metrics endpoint over TLS: OpenSSL (libssl-dev; openssl makes
# the tests' certificates).
PACKAGES="build-essential cmake pkg-config libpcap-dev libboost-dev libabsl-dev libgtest-dev
libgmock-dev libbenchmark-dev libcli11-dev tshark nfdump softflowd pmacct tcpreplay shellcheck
iproute2 nftables python3 clickhouse-server man-db groff-base chromium
fonts-dejavu-core netsniff-ng libmaxminddb-dev zlib1g-dev libbz2-dev bgpdump mmdb-bin
libssl-dev openssl ca-certificates
libzstd-dev zstd ucarp"

# `setup-deps.sh clang` adds Clang 14 with its sanitizer runtimes (`make asan` builds with it);
# `setup-deps.sh fuzz` needs the same for libFuzzer.
case "${1:-}" in clang|fuzz) PACKAGES="$PACKAGES clang-14 libclang-rt-14-dev" ;; esac
# `setup-deps.sh freebsd` adds Clang 14 and libc++ (FreeBSD's C++ library), with which
# scripts/freebsd-check.sh compiles every unit against FreeBSD's headers.
case "${1:-}" in freebsd) PACKAGES="$PACKAGES clang-14 libc++-14-dev libc++abi-14-dev" ;; esac

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing packages:$missing" >&2
  echo "Install them with:" >&2
  echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y$missing" >&2
  exit 1
fi

echo "Installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture; the default (no) is fine.
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
