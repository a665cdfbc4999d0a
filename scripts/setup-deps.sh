#!/usr/bin/env bash
# Installs the Debian packages tutti needs, only those that are missing. Safe to run repeatedly.
# usage: scripts/setup-deps.sh [build|test|bench|all]   (default: test)
set -euo pipefail
what=${1:-test}
build=(build-essential cmake ninja-build pkg-config libgtest-dev libgmock-dev libbenchmark-dev
       libonnx-dev libprotobuf-dev protobuf-compiler libdnnl-dev ocl-icd-opencl-dev nlohmann-json3-dev libhwloc-dev
       libgrpc++-dev protobuf-compiler-grpc libssl-dev)
# ocl-icd-opencl-dev: dnnl-config.cmake requires OpenCL, which libdnnl-dev only Recommends (skipped below).
# Reference generation: PyTorch exports the models and their outputs; python3-onnx generates the ONNX
# backend node-test suite. clang + its runtime for the libFuzzer targets.
test=(python3-numpy python3-onnx python3-torch python3-torchvision clang libclang-rt-14-dev iproute2)
bench=(hyperfine time patchelf)  # patchelf: scripts/bundle.sh
case "$what" in
  build) want=("${build[@]}") ;;
  test) want=("${build[@]}" "${test[@]}") ;;
  bench|all) want=("${build[@]}" "${test[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# The ONNX Runtime peer (bench/peers) comes from npm; Debian's nodejs+npm only if no node is present.
if [ "$what" = bench ] || [ "$what" = all ]; then command -v npm >/dev/null || missing+=(nodejs npm); fi
if ((${#missing[@]})); then
  echo "setup-deps: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
