#!/usr/bin/python3
"""Export torchvision architectures to ONNX with seeded random weights, with a reference input and
PyTorch's own output for it as .npy files. These are the references tutti is checked against.

usage: export_torchvision.py OUTDIR [--opset 13] [--batch 1] NAME...
writes OUTDIR/NAME.onnx, OUTDIR/NAME.input.npy, OUTDIR/NAME.output.npy (skips ones already there)
NAME: any torchvision.models builder (resnet50, mobilenet_v2, inception_v3, densenet121, ...)"""
import argparse, inspect, os, sys, time
import numpy as np, torch, torchvision

p = argparse.ArgumentParser()
p.add_argument("outdir"); p.add_argument("names", nargs="+")
p.add_argument("--opset", type=int, default=13); p.add_argument("--batch", type=int, default=1)
p.add_argument("--force", action="store_true")
a = p.parse_args()
os.makedirs(a.outdir, exist_ok=True)
torch.set_num_threads(os.cpu_count() or 1)
for n in a.names:
    stem = f"{a.outdir}/{n}"
    if not a.force and all(os.path.exists(stem + s) for s in (".onnx", ".input.npy", ".output.npy")):
        print(f"{n}: already exported", flush=True); continue
    t0 = time.time()
    torch.manual_seed(0)
    kw = dict(weights=None)
    if n in ("inception_v3", "googlenet"): kw.update(aux_logits=False, init_weights=False)
    m = getattr(torchvision.models, n)(**kw).eval()
    res = 299 if n == "inception_v3" else 224
    g = torch.Generator().manual_seed(1)
    x = torch.randn(a.batch, 3, res, res, generator=g)
    with torch.no_grad():
        y = m(x)
    kw = dict(input_names=["input"], output_names=["output"], opset_version=a.opset,
              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    # PyTorch >= 2.9 defaults to the dynamo exporter; the TorchScript one gives the same graphs as
    # older PyTorch (BatchNorm folded into Conv), so models exported anywhere look alike.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kw["dynamo"] = False
    try:
        torch.onnx.export(m, x, stem + ".onnx.tmp", **kw)
    except Exception as e:  # a PyTorch without the TorchScript exporter: its default one
        if kw.pop("dynamo", None) is None: raise
        print(f"{n}: TorchScript export failed ({e}); using the default exporter", flush=True)
        torch.onnx.export(m, x, stem + ".onnx.tmp", **kw)
    os.replace(stem + ".onnx.tmp", stem + ".onnx")
    np.save(stem + ".input.npy", x.numpy()); np.save(stem + ".output.npy", y.numpy())
    print(f"{n}: input {tuple(x.shape)} output {tuple(y.shape)} ({time.time()-t0:.1f}s)", flush=True)
