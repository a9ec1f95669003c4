#!/bin/sh
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a bounded time with
# seeds made from ../shared/corpus and pcaps/. Crashes land in build-fuzz/crashes/<target>/;
# copy each into tests/fuzz/regressions/<target>/ once fixed so ctest replays it.
#   FUZZ_SECONDS=60 scripts/fuzz.sh [target...]
set -eu
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
BUILD=${FUZZ_BUILD:-build-fuzz}
scripts/setup-deps.sh fuzz
CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNF_BUILD_FUZZ=ON -DNF_SANITIZE=address -DNF_BUILD_TESTS=OFF -DNF_BUILD_BENCH=OFF >/dev/null
targets=${*:-"packet_parser decoder template_spec address"}
for t in $targets; do cmake --build "$BUILD" -j"$(nproc)" --target "${t}_fuzz" nf-fuzz-seeds; done

seeds="$BUILD/seeds"
if [ ! -d "$seeds/decoder" ]; then
  captures=$(find ../shared/corpus pcaps -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' 2>/dev/null | sort)
  if [ -z "$captures" ]; then echo "note: ../shared/corpus absent: fuzzing from regression inputs only" >&2; fi
  # shellcheck disable=SC2086
  "$BUILD/tests/fuzz/nf-fuzz-seeds" "$seeds" $captures
fi
mkdir -p "$seeds/template_spec" "$seeds/address"
cp templates/*.tmpl "$seeds/template_spec/" 2>/dev/null || true

status=0
for t in $targets; do
  work="$BUILD/corpus/$t"
  crashes="$BUILD/crashes/$t"
  mkdir -p "$work" "$crashes"
  echo "== $t: ${SECONDS_PER_TARGET}s" >&2
  # Each run merges new coverage into $work; -max_total_time bounds it; leaks are reported.
  if ! "$BUILD/tests/fuzz/${t}_fuzz" "$work" "$seeds/$t" "tests/fuzz/regressions/$t" \
      -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$crashes/" -print_final_stats=1 2>"$BUILD/$t.log"; then
    echo "FAIL: $t found a crash: see $BUILD/$t.log and $crashes" >&2
    status=1
  fi
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$BUILD/$t.log" | sed "s/^/$t: /" >&2 || true
done
exit $status
