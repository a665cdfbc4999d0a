#!/usr/bin/python3
"""Writes docs/operators.md: every ONNX (ai.onnx) operator, which backend implements it, and how
its cases of ONNX's backend node-test suite did on that backend.

Nothing in the table is typed by hand. The per-backend facts come from the summary files that
tests/backends/onnx_node_test.cc writes (the operators the backend claims, and passed / failed /
skipped cases per operator); the opset versions come from ONNX's own schema registry
(python3-onnx). Re-run it after the node tests:

  build/release/bin/tutti_backends_tests --gtest_filter=OnnxNodeTest.*            # cpu
  TUTTI_NODE_TEST_DEVICE=cuda build/release/bin/tutti_backends_tests --gtest_filter=OnnxNodeTest.*
  scripts/gen-operator-docs.py [--build build/release] [--out docs/operators.md]

A backend without a summary file keeps the column it has in the existing document (so the CPU
and CUDA columns can be refreshed on different machines).
"""
import argparse
import json
import os
import re
import sys

import onnx.defs

MIN_OPSET, MAX_OPSET = 7, 18  # what model/onnx_loader.h accepts (kMinOpset..kMaxOpset)
BACKENDS = [("cpu", "CPU", "onnx_node_summary.json"), ("cuda", "CUDA", "onnx_node_summary_cuda.json")]


def schema_versions(op):
    """Versions of the operator's schema that a model with opset 7..18 can select."""
    versions = set()
    for opset in range(MIN_OPSET, MAX_OPSET + 1):
        try:
            s = onnx.defs.get_schema(op, opset, "")
        except Exception:  # not defined at this opset
            continue
        if not s.deprecated:
            versions.add(s.since_version)
    return sorted(versions)


def cell(summary, op):
    if summary is None:
        return None
    claimed = op in summary.get("supported_ops", [])
    c = summary["by_op"].get(op)
    if not claimed:
        if c and c["passed"] + c["failed"] > 0:  # run through another op's name (e.g. expanded cases)
            return f"✓* {c['passed']}/{c['passed'] + c['failed']}"
        return ""
    if not c:
        return "✓ (no node tests)"
    ran = c["passed"] + c["failed"]
    text = f"✓ {c['passed']}/{ran}" if ran else "✓ (0 run)"
    if c["failed"]:
        text += f" **{c['failed']} failing**"
    if c.get("excluded"):
        text += f", {c['excluded']} excluded"
    if c.get("skipped"):
        text += f", {c['skipped']} skipped"
    return text


def old_columns(path):
    """Column texts per (op, backend label) of an existing operators.md, to keep what is not refreshed."""
    cols = {}
    if not os.path.exists(path):
        return cols, {}
    header, totals = None, {}
    for line in open(path, encoding="utf-8"):
        if line.startswith("| Operator"):
            header = [h.strip() for h in line.strip().strip("|").split("|")]
            continue
        m = re.match(r"^- \*\*(\w+)\*\*: (.*)$", line.strip())
        if m:
            totals[m.group(1)] = m.group(2)
        if header and line.startswith("| ") and not line.startswith("|--"):
            parts = [p.strip() for p in line.strip().strip("|").split("|")]
            if len(parts) == len(header):
                op = parts[0].strip("`")
                for h, p in zip(header, parts):
                    cols[(op, h)] = p
    return cols, totals


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--build", default=os.path.join(root, "build", "release"))
    ap.add_argument("--out", default=os.path.join(root, "docs", "operators.md"))
    args = ap.parse_args()

    summaries = {}
    for key, label, name in BACKENDS:
        p = os.path.join(args.build, name)
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                summaries[label] = json.load(f)
    if not summaries:
        sys.exit(f"gen-operator-docs: no onnx_node_summary*.json in {args.build}: run the node tests first")
    old, old_totals = old_columns(args.out)

    ops = sorted({s.name for s in onnx.defs.get_all_schemas_with_history()
                  if s.domain in ("", "ai.onnx") and s.since_version <= MAX_OPSET and not s.deprecated})
    rows = []
    for op in ops:
        versions = schema_versions(op)
        if not versions:
            continue
        row = [f"`{op}`", ", ".join(map(str, versions))]
        for _, label, _ in BACKENDS:
            c = cell(summaries.get(label), op)
            row.append(c if c is not None else old.get((op, label), ""))
        rows.append(row)

    totals = dict(old_totals)
    for _, label, _ in BACKENDS:
        s = summaries.get(label)
        if s is None:
            continue
        claimed = set(s.get("supported_ops", []))
        tested = [op for op, c in s["by_op"].items() if op in claimed and c["passed"] + c["failed"] > 0]
        totals[label] = (f"{len(claimed)} operators; node tests: {s['passed']} passed, {s['failed']} failed, "
                         f"{s.get('excluded', 0)} excluded, {s['skipped']} skipped of {s['cases']} cases "
                         f"({len(tested)} claimed operators have cases)")

    out = ["# Operators", "",
           "Generated by `scripts/gen-operator-docs.py` from the ONNX node-test summaries "
           "(`tests/backends/onnx_node_test.cc`) and ONNX's schema registry; do not edit by hand.", "",
           "Each backend cell: ✓ when the backend implements the operator, then the operator's cases of ONNX's "
           "backend node-test suite (python3-onnx " + onnx.__version__ + ") that passed / ran on that backend, "
           "and cases skipped (data tutti does not model: sequences, optionals, strings; or another operator "
           "in the case that the backend lacks). Multi-node `*_expanded` cases count under the operator they "
           "are named after. \"Opsets\" are the versions of the operator's schema a model of opset "
           f"{MIN_OPSET}–{MAX_OPSET} can select; the loader (`model/opset_normalize.h`) brings them to one form. "
           "✓* marks an operator with no kernel of its own whose cases run anyway: the loader rewrites it "
           "(Upsample → Resize) or the cases are expanded function bodies.", ""]
    for _, label, _ in BACKENDS:
        if label in totals:
            out.append(f"- **{label}**: {totals[label]}")
    out += ["", "| Operator | Opsets | " + " | ".join(l for _, l, _ in BACKENDS) + " |",
            "|---|---|" + "---|" * len(BACKENDS)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"gen-operator-docs: wrote {args.out} ({len(rows)} operators)")


if __name__ == "__main__":
    main()
