#!/usr/bin/env bash
# Correctness of the CUDA backend on a GPU machine, from a bundle (scripts/bundle.sh): exports the
# ten seed networks with this machine's torch, then runs tests/cuda (models in fp32/tf32/fp16 vs
# PyTorch, out-of-memory, device errors) and, when the bundle has it, ONNX's node tests on cuda.
# usage: scripts/gpu_check.sh BUNDLE_DIR [OUTDIR] [NODE_TESTS_DIR]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle=${1:?usage: scripts/gpu_check.sh BUNDLE_DIR [OUTDIR] [NODE_TESTS_DIR]}
out=${2:-/tmp/gpu_check}
node=${3:-}
td=${TUTTI_TESTDATA:-/tmp/tutti_testdata}
mkdir -p "$out" "$td/models"
[ -n "$node" ] && [ ! -e "$td/onnx" ] && mkdir -p "$td/onnx" && ln -s "$(cd "$node" && pwd)" "$td/onnx/node"
nvidia-smi -L
if ldd "$bundle/bin/tutti" "$bundle/lib/libtutti.so" | grep 'not found'; then echo "gpu_check: unresolved libraries"; exit 1; fi
models=${TUTTI_TEST_MODELS:-"squeezenet1_0 squeezenet1_1 mobilenet_v2 resnet18 resnet34 resnet50 inception_v3 densenet121 vgg16 vgg19"}
# shellcheck disable=SC2086
python3 "$root/scripts/export_torchvision.py" "$td/models" $models > "$out/export.log" 2>&1 || tail -5 "$out/export.log"
export TUTTI_TESTDATA=$td
rc=0
"$bundle/bin/tutti_cuda_tests" --gtest_output="json:$out/cuda_tests.json" > "$out/cuda_tests.log" 2>&1 || rc=1
grep -E "^\[  (FAILED|  OK|  SKIPPED) |Failure|error|max_rel" "$out/cuda_tests.log" | head -80
tail -3 "$out/cuda_tests.log"
if [ -x "$bundle/bin/tutti_backends_tests" ] && [ -e "$td/onnx/node" ]; then
  TUTTI_NODE_TEST_DEVICE=cuda TUTTI_NODE_TEST_SUMMARY="$out/onnx_node_summary_cuda.json" \
    "$bundle/bin/tutti_backends_tests" --gtest_filter='OnnxNodeTest.*' > "$out/node_tests.log" 2>&1 || rc=1
  grep -E "onnx node tests on|Failure" "$out/node_tests.log" | head -5
  grep -B1 -A2 "Failure" "$out/node_tests.log" | grep -v "^--" | grep -v Failure | head -60
fi
exit $rc
