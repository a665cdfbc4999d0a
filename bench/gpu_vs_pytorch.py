#!/usr/bin/env python3
"""tutti's CUDA backend against PyTorch on the same GPU, in one process run (issue 3's benchmark).

usage: gpu_vs_pytorch.py --tutti BIN --models DIR [--out JSON] [NAME...]

For each torchvision model (DIR/NAME.onnx, exported with dynamic batch by
scripts/export_torchvision.py from the same seeded weights):
  batch 1   latency: tutti (CUDA graph replay, copies in and out included) vs PyTorch's fastest
            mode, a CUDA graph over a channels_last model (input already on the GPU), in fp32
            (strict: TF32 off) and fp16;
  batch 256 throughput: tutti vs PyTorch eager (torch.inference_mode) in fp32, tf32 and fp16;
  peak device memory of each run: tutti's executable (weights + arena + workspace) vs
            torch.cuda.max_memory_allocated.
Timings are medians of repeated runs after warm-up. A markdown table is printed last."""
import argparse, json, os, statistics, subprocess, sys, time

import torch, torchvision

p = argparse.ArgumentParser()
p.add_argument("--tutti", required=True)
p.add_argument("--models", required=True)
p.add_argument("--out", default="")
p.add_argument("--batch", type=int, default=256)
p.add_argument("--lat-iters", type=int, default=200)
p.add_argument("--thr-iters", type=int, default=10)
p.add_argument("names", nargs="*", default=["resnet50", "mobilenet_v2", "squeezenet1_0", "vgg16", "inception_v3",
                                            "densenet121"])
a = p.parse_args()
dev = torch.device("cuda")


def set_precision(prec):
    tf32 = prec == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True


def make_model(name, prec, channels_last):
    torch.manual_seed(0)
    kw = dict(weights=None)
    if name in ("inception_v3", "googlenet"):
        kw.update(aux_logits=False, init_weights=False)
    m = getattr(torchvision.models, name)(**kw).eval().to(dev)
    if prec == "fp16":
        m = m.half()
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
    return m


def res(name):
    return 299 if name == "inception_v3" else 224


def torch_latency_graph(name, prec):
    set_precision(prec)
    m = make_model(name, prec, True)
    dt = torch.float16 if prec == "fp16" else torch.float32
    x = torch.randn(1, 3, res(name), res(name), device=dev, dtype=dt).to(memory_format=torch.channels_last)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode():
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(5):
                m(x)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            y = m(x)
        for _ in range(20):
            g.replay()
        torch.cuda.synchronize()
        times = []
        for _ in range(a.lat_iters):
            t0 = time.perf_counter()
            g.replay()
            torch.cuda.synchronize()
            times.append((time.perf_counter() - t0) * 1e3)
    peak = torch.cuda.max_memory_allocated()
    del g, y, m, x
    torch.cuda.empty_cache()
    return statistics.median(times), peak


def torch_throughput_eager(name, prec, batch):
    set_precision(prec)
    m = make_model(name, prec, False)
    dt = torch.float16 if prec == "fp16" else torch.float32
    x = torch.randn(batch, 3, res(name), res(name), device=dev, dtype=dt)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode():
        for _ in range(3):
            m(x)
        torch.cuda.synchronize()
        times = []
        for _ in range(a.thr_iters):
            t0 = time.perf_counter()
            m(x)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated()
    del m, x
    torch.cuda.empty_cache()
    return batch / statistics.median(times), peak


def tutti(name, prec, batch, iters):
    cmd = [a.tutti, "bench", f"{a.models}/{name}.onnx", "--device", "cuda", "--precision", prec, "--batch", str(batch),
           "--iterations", str(iters), "--warmup", "5", "--json", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr or r.stdout).strip().splitlines()[-1:] or ["?"]}
    return json.loads(r.stdout)


rows = []
for name in a.names:
    for prec in ("fp32", "fp16"):
        t = tutti(name, prec, 1, a.lat_iters)
        pt_ms, pt_peak = torch_latency_graph(name, prec)
        rows.append(dict(model=name, mode="b1 latency", prec=prec, tutti=t, torch_ms=pt_ms, torch_peak=pt_peak))
        print(json.dumps(rows[-1]), flush=True)
    for prec in ("fp32", "tf32", "fp16"):
        t = tutti(name, prec, a.batch, a.thr_iters)
        pt_ips, pt_peak = torch_throughput_eager(name, prec, a.batch)
        rows.append(dict(model=name, mode=f"b{a.batch} throughput", prec=prec, tutti=t, torch_ips=pt_ips,
                         torch_peak=pt_peak))
        print(json.dumps(rows[-1]), flush=True)

if a.out:
    with open(a.out, "w") as f:
        json.dump(dict(device=torch.cuda.get_device_name(0), torch=torch.__version__, rows=rows), f, indent=1)

mib = lambda b: b / 2**20
print(f"\nGPU: {torch.cuda.get_device_name(0)}, PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")
print("| model | run | precision | tutti | PyTorch | ratio | tutti MiB | PyTorch MiB | mem ratio |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    t = r["tutti"]
    if "error" in t:
        print(f"| {r['model']} | {r['mode']} | {r['prec']} | error: {t['error'][0][:60]} | | | | | |")
        continue
    tm = mib(t.get("peak_device_bytes") or 0)
    pm = mib(r["torch_peak"])
    if "torch_ms" in r:
        tv, pv = t["latency_ms"]["median"], r["torch_ms"]
        print(f"| {r['model']} | {r['mode']} | {r['prec']} | {tv:.3f} ms | {pv:.3f} ms | {tv / pv:.2f} | {tm:.0f} | {pm:.0f} | {tm / pm if pm else 0:.2f} |")
    else:
        tv, pv = t["throughput_items_per_s"], r["torch_ips"]
        print(f"| {r['model']} | {r['mode']} | {r['prec']} | {tv:.0f} img/s | {pv:.0f} img/s | {tv / pv:.2f} | {tm:.0f} | {pm:.0f} | {tm / pm if pm else 0:.2f} |")
print("ratio: latency tutti/PyTorch (goal <= 1), throughput tutti/PyTorch (goal >= 1); "
      "mem ratio: tutti peak / PyTorch peak (goal <= 1)")
