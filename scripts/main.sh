#!/usr/bin/env bash
# The README's first command: install what is missing, build the release tree, and run the main job
# on the embedded default model (models/demo.onnx, a small PyTorch-exported CNN with PyTorch's own
# output beside it): describe it, run it and check the result against PyTorch, then time it.
#   usage: scripts/main.sh [MODEL.onnx]      (the CLI ends up at build/release/bin/tutti)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${TUTTI_JOBS:-$(nproc)}
step() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

step "dependencies"
scripts/setup-deps.sh build

step "release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs" --target tutti_cli
tutti=build/release/bin/tutti

model=${1:-models/demo.onnx}
step "model: $model"
"$tutti" info "$model"

if [ -z "${1:-}" ]; then
  step "run on the CPU, compared with PyTorch's output"
  out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
  "$tutti" run "$model" --input models/demo.input.npy --expect probabilities=models/demo.output.npy \
    --tolerance 1e-4 --output-dir "$out"
else
  step "run on the CPU (random input)"
  "$tutti" run "$model"
fi

step "latency on the CPU"
"$tutti" bench "$model" --warmup 20 --iterations 200
