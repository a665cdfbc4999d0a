#!/usr/bin/env python3
"""ONNX Runtime (CPU, Python wheel) timed exactly as ort_bench.js times the npm package: for machines
that have ONNX Runtime for Python but no node (the GPU machine). Same flags, same JSON line.
usage: ort_bench.py MODEL.onnx [--threads N] [--batch N] [--iters N] [--warmup N]"""
import argparse
import json
import resource
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort


def max_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    baseline = max_rss_bytes()
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = a.threads, 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    t0 = time.perf_counter()
    s = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    meta = s.get_inputs()[0]
    # Symbolic dims: the leading one is the batch; any other is an image side (the models here are 224²).
    shape = [d if isinstance(d, int) and d > 0 else (a.batch if i == 0 else 224) for i, d in enumerate(meta.shape)]
    shape[0] = a.batch
    x = (np.random.rand(*shape).astype(np.float32) - 0.5)
    for _ in range(a.warmup):
        s.run(None, {meta.name: x})
    ms = []
    for _ in range(a.iters):
        t = time.perf_counter()
        s.run(None, {meta.name: x})
        ms.append((time.perf_counter() - t) * 1e3)
    print(json.dumps({"runtime": "onnxruntime-" + ort.__version__ + " (python)", "model": a.model, "threads": a.threads,
                      "batch": a.batch, "shape": shape, "iterations": len(ms), "load_ms": load_ms,
                      "latency_ms": {"median": statistics.median(ms), "min": min(ms), "max": max(ms)},
                      "peak_rss_bytes": max_rss_bytes(), "baseline_rss_bytes": baseline}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line, like ort_bench.js
        sys.exit(f"ort_bench: {e}")
