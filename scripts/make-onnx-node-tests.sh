#!/usr/bin/env bash
# Generates ONNX's backend node-test suite (model.onnx + test_data_set_*/{input,output}_*.pb per
# case) from the generators that Debian's python3-onnx ships.  usage: make-onnx-node-tests.sh OUTDIR
set -euo pipefail
out=${1:?usage: make-onnx-node-tests.sh OUTDIR}
[ -d "$out/node" ] && [ "$(ls "$out/node" | wc -l)" -gt 100 ] && { echo "onnx node tests: already in $out/node"; exit 0; }
mkdir -p "$out"
# onnx 1.12's generators use NumPy aliases that NumPy 1.24 removed; put them back first.
/usr/bin/python3 - "$out" <<'PY'
import sys, numpy as np
for a, t in (("float", float), ("int", int), ("bool", bool), ("object", object)):
    if not hasattr(np, a): setattr(np, a, t)
sys.argv = ["cmd_tools", "generate-data", "-o", sys.argv[1]]
from onnx.backend.test import cmd_tools
cmd_tools.main()
PY
echo "onnx node tests: $(ls "$out/node" | wc -l) cases in $out/node"
