#!/bin/sh
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a bounded time with
# seeds made from ../shared/corpus and pcaps/. Crashes land in build-fuzz/crashes/<target>/;
# copy each into tests/fuzz/regressions/<target>/ once fixed so ctest replays it.
#   FUZZ_SECONDS=60 scripts/fuzz.sh [target...]
# FUZZ_RUNS=N stops each target after N executions (FUZZ_SECONDS still bounds the time);
# FUZZ_MAX_LEN caps input size (default 65536; smaller inputs run faster);
# FUZZ_TIMEOUT=S per input (default 10; raise it when the machine is loaded or the run is
# niced, or a starved process reports a slow unit as a timeout); FUZZ_SKIP_BUILD=1 reuses the binaries (for runs in parallel on the same build dir).
# Each run's log is kept as $BUILD/logs/<target>-<UTC time>.log ($BUILD/<target>.log = latest).
set -eu
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
RUNS=${FUZZ_RUNS:--1}
MAX_LEN=${FUZZ_MAX_LEN:-65536}
TIMEOUT=${FUZZ_TIMEOUT:-10}
BUILD=${FUZZ_BUILD:-build-fuzz}
targets=${*:-"packet_parser decoder sflow template_spec address routes filter"}
if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
  scripts/setup-deps.sh fuzz
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DNF_BUILD_FUZZ=ON -DNF_SANITIZE=address -DNF_BUILD_TESTS=OFF -DNF_BUILD_BENCH=OFF >/dev/null
  for t in $targets; do cmake --build "$BUILD" -j"$(nproc)" --target "${t}_fuzz" nf-fuzz-seeds; done
fi

seeds="$BUILD/seeds"
if [ ! -d "$seeds/decoder" ] || [ ! -d "$seeds/sflow" ]; then
  captures=$(find ../shared/corpus pcaps -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' 2>/dev/null | sort)
  if [ -z "$captures" ]; then echo "note: ../shared/corpus absent: fuzzing from regression inputs only" >&2; fi
  # shellcheck disable=SC2086
  "$BUILD/tests/fuzz/nf-fuzz-seeds" "$seeds" $captures
fi
mkdir -p "$seeds/template_spec" "$seeds/address" "$seeds/routes" "$seeds/filter"
cp templates/*.tmpl "$seeds/template_spec/" 2>/dev/null || true
# Routing tables: the corpus MRT dumps, compressed as shipped and unpacked (so mutations reach
# the MRT parser rather than only zlib's checks).
for f in ../shared/corpus/enrich/bgpdump/*.gz ../shared/corpus/enrich/mrtparse/*; do
  [ -f "$f" ] || continue
  b=$(basename "$f")
  cp "$f" "$seeds/routes/$b"
  case $f in *.gz) gzip -dc "$f" | head -c 65536 >"$seeds/routes/$b.head.mrt" ;; esac
done
# Filter expressions: every line of the code blocks in docs/filters.md (examples and error
# messages alike), one per file, and the whole page as one input.
awk -v dir="$seeds/filter" '/^```/ { inside = !inside; next }
  inside && NF { n++; print > (dir "/docs-" n); close(dir "/docs-" n) }' docs/filters.md
cp docs/filters.md "$seeds/filter/docs-page"

status=0
mkdir -p "$BUILD/logs"
for t in $targets; do
  work="$BUILD/corpus/$t"
  crashes="$BUILD/crashes/$t"
  log="$BUILD/logs/$t-$(date -u +%Y%m%dT%H%M%SZ).log"
  mkdir -p "$work" "$crashes"
  echo "== $t: ${SECONDS_PER_TARGET}s, runs $RUNS, max_len $MAX_LEN, log $log" >&2
  # Each run merges new coverage into $work; -max_total_time bounds it; leaks are reported.
  if ! "$BUILD/tests/fuzz/${t}_fuzz" "$work" "$seeds/$t" "tests/fuzz/regressions/$t" \
      -max_total_time="$SECONDS_PER_TARGET" -runs="$RUNS" -max_len="$MAX_LEN" -timeout="$TIMEOUT" \
      -rss_limit_mb=2048 -artifact_prefix="$crashes/" -print_final_stats=1 2>"$log"; then
    echo "FAIL: $t found a crash: see $log and $crashes" >&2
    status=1
  fi
  cp "$log" "$BUILD/$t.log"
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|^Done' "$log" | sed "s/^/$t: /" >&2 || true
done
exit $status
