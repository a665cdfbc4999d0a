#!/usr/bin/env bash
# tutti's CUDA backend vs PyTorch on this machine's GPU, side by side in one call (issue 3):
# exports the six models with this machine's own torch/torchvision (same seeded weights as the
# tests), then bench/gpu_vs_pytorch.py times both and prints the markdown table last.
# usage: bench/gpu_vs_pytorch.sh BUNDLE_DIR [OUTDIR] [MODEL...]   (BUNDLE_DIR: scripts/bundle.sh's folder)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle=${1:?usage: bench/gpu_vs_pytorch.sh BUNDLE_DIR [OUTDIR] [MODEL...]}
out=${2:-/tmp/gpu_vs_pytorch}
shift $(( $# >= 2 ? 2 : 1 ))
models=${*:-resnet50 mobilenet_v2 squeezenet1_0 vgg16 inception_v3 densenet121}
mkdir -p "$out"
py=$(command -v python3)
# shellcheck disable=SC2086
"$py" "$root/scripts/export_torchvision.py" "${TUTTI_MODELS_DIR:-/tmp/tutti_models}" $models > "$out/export.log" 2>&1 ||
  { tail -5 "$out/export.log"; exit 1; }
# shellcheck disable=SC2086
PYTHONUNBUFFERED=1 "$py" "$root/bench/gpu_vs_pytorch.py" --tutti "$bundle/bin/tutti" \
  --models "${TUTTI_MODELS_DIR:-/tmp/tutti_models}" --out "$out/gpu_vs_pytorch.json" $models 2>&1 | tee "$out/gpu_vs_pytorch.log"
