#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, -fsanitize=fuzzer,address,undefined) and
# runs each for a bounded time on its seed corpus (fuzz/make_seeds.cc writes it at build time).
# Fails on any finding: a crash, a sanitizer report, a leak, a timeout or an out-of-memory; the
# reproducer is kept in build/fuzz/findings/.
#   usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default: $TUTTI_FUZZ_SECONDS or 60)
#   TUTTI_FUZZ_TARGETS="npy_fuzz" limits the run to some targets; TUTTI_JOBS sets build parallelism.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-${TUTTI_FUZZ_SECONDS:-60}}
jobs=${TUTTI_JOBS:-$(nproc)}
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: seconds must be a whole number, got '$seconds'" >&2; exit 2 ;; esac

# Remote workers (gRPC) play no part in what is fuzzed; leaving them out keeps the build short.
cmake --preset fuzz -DTUTTI_WITH_REMOTE=OFF >/dev/null
build=build/fuzz
targets=${TUTTI_FUZZ_TARGETS:-$(sed -n 's/^ *tutti_add_fuzzer(\([a-z_]*\) .*/\1/p' fuzz/CMakeLists.txt | \
  while read -r t; do if [ -f "fuzz/$t.cc" ]; then echo "$t"; fi; done)}
# shellcheck disable=SC2086
cmake --build --preset fuzz -j "$jobs" --target fuzz_corpus $targets

mkdir -p "$build/findings"
failed=0
for t in $targets; do
  bin=$build/bin/$t
  seeds=$build/fuzz/corpus/$t
  work=$(mktemp -d)  # new inputs found in this run; the seed folder stays as generated
  echo "== $t: ${seconds}s on $(ls "$seeds" 2>/dev/null | wc -l) seeds"
  # -rss_limit_mb: the readers check sizes before allocating, so a big allocation is itself a bug.
  if ! "$bin" "$work" "$seeds" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$build/findings/$t-" 2>"$work.log"; then
    echo "fuzz.sh: $t found a problem; reproducer in $build/findings/ (rerun: $bin FILE)" >&2
    tail -n 60 "$work.log" >&2
    failed=1
  else
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$work.log" || true
  fi
  rm -rf "$work" "$work.log"
done
[ "$failed" = 0 ] && echo "fuzz.sh: no findings"
exit "$failed"
