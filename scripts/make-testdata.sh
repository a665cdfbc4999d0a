#!/usr/bin/env bash
# Generates everything the tests compare against, into build/testdata (or $1):
#   models/NAME.{onnx,input.npy,output.npy}  torchvision networks with PyTorch's own outputs
#   onnx/node/test_*/                        ONNX's backend node-test suite
# Nothing here reads ../shared; the references come from PyTorch and ONNX as Debian packages them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/testdata}
mkdir -p "$out/models"
"$root/scripts/make-onnx-node-tests.sh" "$out/onnx"
models=${TUTTI_TEST_MODELS:-"squeezenet1_0 squeezenet1_1 mobilenet_v2 resnet18 resnet34 resnet50 inception_v3 densenet121 vgg16 vgg19"}
# shellcheck disable=SC2086
/usr/bin/python3 "$root/scripts/export_torchvision.py" "$out/models" $models
