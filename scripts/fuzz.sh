#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, -fsanitize=fuzzer,address,undefined) and
# runs each for a bounded time on its seed corpus (fuzz/make_seeds.cc writes it at build time).
# Fails on any finding: a crash, a sanitizer report, a leak, a timeout or an out-of-memory; the
# reproducer is kept in build/fuzz/findings/.
#   usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default: $TUTTI_FUZZ_SECONDS or 60)
#   TUTTI_FUZZ_TARGETS="npy_fuzz" limits the run to some targets; TUTTI_JOBS sets build parallelism;
#   TUTTI_FUZZ_SEED sets libFuzzer's random seed (default 1, fixed: see below).
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

# A fixed libFuzzer seed: by default every run draws a new one, so a CI rerun of the same commit
# would walk different mutations and a rare finding would come and go. With a fixed seed a run
# replays the same walk from the seeds (a slower machine just stops earlier on it), so a finding
# on a commit shows again on its rerun, while any change to the library or the seeds moves the walk.
# TUTTI_FUZZ_SEED=0 lets libFuzzer pick one (for longer local runs that explore further afield).
fuzz_seed=${TUTTI_FUZZ_SEED:-1}
case "$fuzz_seed" in ''|*[!0-9]*) echo "fuzz.sh: TUTTI_FUZZ_SEED must be a whole number, got '$fuzz_seed'" >&2; exit 2 ;; esac

mkdir -p "$build/findings"
failed=0
for t in $targets; do
  bin=$build/bin/$t
  seeds=$build/fuzz/corpus/$t
  work=$(mktemp -d)  # new inputs found in this run; the seed folder stays as generated
  # Inputs up to 64 KiB, or the largest seed (models/demo.onnx is ~100 KiB): a seed cut short is
  # just a protobuf that does not parse.
  max_len=$(find "$seeds" -type f -printf '%s\n' 2>/dev/null | sort -n | tail -n 1)
  max_len=$(( ${max_len:-0} > 65536 ? ${max_len:-0} : 65536 ))
  echo "== $t: ${seconds}s on $(ls "$seeds" 2>/dev/null | wc -l) seeds (seed $fuzz_seed)"
  # -rss_limit_mb: the readers check sizes before allocating, so a big allocation is itself a bug.
  if ! "$bin" "$work" "$seeds" -seed="$fuzz_seed" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$build/findings/$t-" 2>"$work.log"; then
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
