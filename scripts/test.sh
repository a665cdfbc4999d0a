#!/usr/bin/env bash
# The README's second command: install what is missing, build, generate the references (PyTorch
# outputs, ONNX node tests), and run the whole suite: release, then AddressSanitizer +
# UndefinedBehaviorSanitizer, ThreadSanitizer over the concurrent parts, and the fuzz targets for a
# bounded time.   usage: scripts/test.sh [--quick]   (--quick: release build and tests only)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=0; [ "${1:-}" = "--quick" ] && quick=1
jobs=${TUTTI_JOBS:-$(nproc)}
step() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

step "dependencies"
scripts/setup-deps.sh test

step "release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"

step "reference data (PyTorch exports, ONNX node tests)"
scripts/make-testdata.sh

step "tests: release"
ctest --preset release -j "$jobs" --timeout 1500
[ "$quick" = 1 ] && exit 0

step "tests: AddressSanitizer + UndefinedBehaviorSanitizer"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
# The biggest networks are slow under ASan; the release run above already checks them all.
ASAN_OPTIONS=detect_leaks=1 TUTTI_TEST_MODELS_MAX_MB=120 ctest --preset asan -j "$jobs" --timeout 1500

step "tests: ThreadSanitizer (engine, schedulers, profiler, partitioning, asymmetric executor)"
# Only the concurrent layers' test binaries are built and run under TSan; the rest is single-threaded
# code the release and ASan stages already cover.
# Left out: the tests that talk to `tutti worker` over gRPC (the remote layer, the spatial fault and
# remote tests). Debian's gRPC, Abseil and OpenSSL are not built with TSan, so the hand-offs between
# gRPC's own threads are invisible to it, and it reports them as races wherever they pass through
# code compiled into our binaries (std::string, grpcpp's header templates): an open-ended stream of
# false reports (tests/tsan.supp holds the ones seen, 2026-12-02). Those tests run in the release
# and ASan stages; the coordinator's own threads are the engine's and the spatial executor's, which
# run here.
concurrent=(engine sched profile partition asymmetric)
targets=()
for layer in "${concurrent[@]}"; do
  if [ -d "tests/$layer" ]; then targets+=(--target "tutti_${layer}_tests"); fi
done
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$jobs" "${targets[@]}"
# libgomp is not TSan-instrumented: one OpenMP thread per kernel keeps its barriers out of the report
# while our own threads (workers, pools, queues) stay fully checked. The preset sets the same options.
labels=$(IFS='|'; echo "${concurrent[*]}")
OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tests/tsan.supp" \
  ctest --preset tsan -j "$jobs" --timeout 1500 -L "^($labels)\$" -E "^(SpatialFaultTest|SpatialRemoteTest)\."

if [ -x scripts/fuzz.sh ]; then
  step "fuzz targets (bounded)"
  scripts/fuzz.sh "${TUTTI_FUZZ_SECONDS:-60}"
fi
step "all test stages passed"
