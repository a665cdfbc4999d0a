#!/usr/bin/env python3
"""Engine workload benchmark (issue 4, Band): a workload on each processor alone against the same
workload on all processors at once, side by side in one run, and optionally the highest request
rate at which >= 99% of requests meet their SLO. Rewrites the Engine section of docs/benchmarks.md.

usage: bench/engine.py [WORKLOAD.json ...] [--reps 3] [--duration S] [--schedulers "heft round_robin"]
                       [--alone "gpu cpu0"] [--groups "gpu+gpu_s2"] [--slo-rates "10 20 40"]
                       [--no-micro] [--no-write]

--alone names the processors that also run the workload alone (default: every one; a workload with
several processors of one kind needs only one of them). --groups adds setups with a subset of the
processors ("a+b", several separated by spaces), run with the first scheduler: e.g. the GPU's two
streams without the CPU, to show what the CPU adds beyond a second stream.

Each repetition runs every setup once, interleaved (alone on p0, alone on p1, ..., all with each
scheduler), so the machine's load hits all setups alike; the table reports medians over the
repetitions and ratios of medians. Default workload: bench/workloads/two_cpu_streams.json (the
2-core build machine: two one-core CPU processors, two models streaming; goal >= 1.8x).
Unless --no-micro, it also runs the engine_bench microbenchmarks (scheduling decision with 100
queued jobs x 5 processors; a request through the engine vs the direct backend call).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("TUTTI_BIN", os.path.join(ROOT, "build/release/bin/tutti"))
MICRO = os.environ.get("TUTTI_ENGINE_BENCH", os.path.join(ROOT, "build/release/bin/engine_bench"))
DOC = os.path.join(ROOT, "docs/benchmarks.md")
SECTION = "## Engine: many models on every processor (issue 4)"


def load_config(path):
    with open(path) as f:
        cfg = json.load(f)
    base = os.path.dirname(os.path.abspath(path))
    for m in cfg["models"]:  # temp configs live elsewhere: make model paths absolute
        if not os.path.isabs(m["file"]):
            m["file"] = os.path.normpath(os.path.join(base, m["file"]))
    return cfg


def run(cfg, tmp, duration):
    path = os.path.join(tmp, "workload.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    args = [BIN, "workload", path, "--json", "--quiet"]
    if duration:
        args += ["--duration", str(duration)]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip() or f"tutti workload exited {p.returncode}")
    return json.loads(p.stdout)


def setups(cfg, schedulers, alone=None, groups=()):
    """(label, config, kind) for each processor alone (those named in `alone`, or all), each group of
    processors with the first scheduler, and all processors with each scheduler."""
    out = []
    names = [p["name"] for p in cfg["processors"]]
    for name in (alone or []):
        if name not in names:
            raise SystemExit(f"engine.py: --alone: no processor '{name}' in the workload (it has {', '.join(names)})")
    for proc in cfg["processors"]:
        if alone and proc["name"] not in alone:
            continue
        c = json.loads(json.dumps(cfg))
        c["processors"] = [proc]
        out.append((f"{proc['name']} alone", c, "single"))
    for group in groups:
        members = group.split("+")
        missing = [m for m in members if m not in names]
        if missing:
            raise SystemExit(f"engine.py: --groups: no processor '{missing[0]}' in the workload (it has {', '.join(names)})")
        c = json.loads(json.dumps(cfg))
        c["processors"] = [p for p in cfg["processors"] if p["name"] in members]
        c["scheduler"] = dict(c.get("scheduler", {}), name=schedulers[0])
        out.append((f"{group}, {schedulers[0]}", c, "group"))
    for s in schedulers:
        c = json.loads(json.dumps(cfg))
        c["scheduler"] = dict(c.get("scheduler", {}), name=s)
        names = "+".join(p["name"] for p in cfg["processors"])
        out.append((f"all ({names}), {s}", c, "all"))
    return out


def with_poisson(cfg, total_rate):
    c = json.loads(json.dumps(cfg))
    for m in c["models"]:
        for k in ("clients", "period_ms", "rate_per_s"):
            m.pop(k, None)
        m["pattern"] = "poisson"
        m["rate_per_s"] = total_rate / len(c["models"])
    return c


def machine():
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    desc = f"{cpu}, {os.cpu_count()} cores"
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20).stdout.strip().splitlines()
        if gpu:
            desc += ", " + ", ".join(gpu)
    except (OSError, subprocess.SubprocessError):
        pass
    return desc


def bench_workload(path, args, tmp):
    cfg = load_config(path)
    schedulers = args.schedulers.split()
    alone, groups = args.alone.split(), args.groups.split()
    runs = {}
    loads = []
    for rep in range(args.reps):
        for label, c, kind in setups(cfg, schedulers, alone, groups):
            loads.append(os.getloadavg()[0])
            try:
                r = run(c, tmp, args.duration)
            except RuntimeError as e:
                print(f"engine.py: {os.path.basename(path)} {label}: {e}", file=sys.stderr)
                continue
            runs.setdefault((label, kind), []).append(r)
            o = r["overall"]
            print(f"engine.py: {os.path.basename(path)} rep {rep + 1}/{args.reps} {label}: "
                  f"{o['throughput_per_s']:.2f} req/s, p99 {o['latency_ms']['p99']} ms, "
                  f"{o['dropped']} dropped, {o['failed']} failed", file=sys.stderr)
    rows = []
    for (label, kind), rs in runs.items():
        tput = statistics.median(r["overall"]["throughput_per_s"] for r in rs)
        p99s = [r["overall"]["latency_ms"]["p99"] for r in rs if r["overall"]["latency_ms"]["p99"] is not None]
        util = [statistics.median(p["utilisation"] for p in r["processors"]) for r in rs]
        rows.append({"label": label, "kind": kind, "reps": len(rs), "tput": tput,
                     "p99": statistics.median(p99s) if p99s else None, "util": statistics.median(util),
                     "counts_ok": all(r["overall"]["submitted"] == r["overall"]["completed"] + r["overall"]["dropped"]
                                      + r["overall"]["failed"] for r in rs)})
    single = [r for r in rows if r["kind"] == "single"]
    best_single = max(single, key=lambda r: r["tput"]) if single else None
    result = {"workload": os.path.relpath(path, ROOT), "rows": rows, "best_single": best_single,
              "load": statistics.median(loads) if loads else None, "duration": args.duration or cfg.get("duration_s"),
              "models": ", ".join(m["name"] if "name" in m else os.path.basename(m["file"]) for m in cfg["models"])}

    if args.slo_rates and not any("slo_ms" in m for m in cfg["models"]):
        print(f"engine.py: {os.path.basename(path)}: no model has an slo_ms, so there is no SLO rate to sweep",
              file=sys.stderr)
    elif args.slo_rates:
        # Highest total Poisson rate at which >= 99% of requests meet their SLO: alone on the best
        # single processor, each group, and all processors with the best scheduler. Rates go up in the given order
        # and stop at the first that misses, as satisfaction only falls with load.
        best_all = max((r for r in rows if r["kind"] == "all"), key=lambda r: r["tput"], default=None)
        swept = {best_single and best_single["label"], best_all and best_all["label"]}
        swept |= {r["label"] for r in rows if r["kind"] == "group"}
        slo = {}
        for label, c, kind in setups(cfg, schedulers, alone, groups):
            if label not in swept:
                continue
            best_rate = 0.0
            for rate in [float(x) for x in args.slo_rates.split()]:
                sats = []
                for _ in range(args.reps):
                    try:
                        r = run(with_poisson(c, rate), tmp, args.duration)
                        sats.append(r["overall"]["slo_satisfaction"] or 0.0)
                    except RuntimeError as e:
                        print(f"engine.py: {label} at {rate}/s: {e}", file=sys.stderr)
                sat = statistics.median(sats) if sats else 0.0
                print(f"engine.py: {label} poisson {rate}/s: SLO met {sat:.3f}", file=sys.stderr)
                if sat < 0.99:
                    break
                best_rate = rate
            slo[label] = (kind, best_rate)
        result["slo"] = slo
    return result


NOTE = (
    "Reading the tables: on a loaded machine a ratio measures how much CPU the machine gives two pinned "
    "workers as much as the engine (with many runnable processes per core, the second processor adds less "
    "than a core), and wall-clock microbenchmarks include waiting for a core, where CPU time is the engine's "
    "own cost. The goals (≥ 1.8× on two one-core processors, ≤ 10 µs per scheduling decision, ≤ 50 µs request "
    "overhead) are for a quiet machine. The GPU-machine goals (MobileNetV2, ResNet-50, SqueezeNet 1.0, "
    "Inception-v3 streaming at once: ≥ 1.2× throughput and ≥ 1.3× the highest rate with ≥ 99% within SLO, "
    "against everything on the GPU) are measured with "
    "`bench/engine.py bench/workloads/gpu_mixed.json --schedulers \"heft shortest_expected_latency "
    "least_slack_time_first\" --slo-rates \"...\"` on that machine.\n")


def micro(reps):
    """Medians of engine_bench over `reps` repetitions: {name: (wall us, cpu us, decisions per call)}."""
    p = subprocess.run([MICRO, f"--benchmark_repetitions={max(reps, 3)}", "--benchmark_report_aggregates_only=true",
                        "--benchmark_format=json"], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip() or f"engine_bench exited {p.returncode}")
    out = {}
    for b in json.loads(p.stdout)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3}[b.get("time_unit", "ns")]
        out[b["run_name"]] = (b["real_time"] * scale, b["cpu_time"] * scale, b.get("decisions_per_call", 1))
    return out


def micro_markdown(m, load):
    lines = [f"**Engine overhead** (`bench/engine_bench.cc`, Google Benchmark, medians; load {load:.1f}: wall time "
             "on this shared machine includes waiting for a core, so CPU time is given too)", "",
             "| scheduler | one decision, window 1 (µs wall / CPU) | per decision, 100 queued jobs × 5 processors "
             "in one call (µs wall / CPU) | goal |", "| --- | ---: | ---: | --- |"]
    for name in ("heft", "least_slack_time_first", "shortest_expected_latency", "round_robin", "fixed"):
        one, hundred = m.get(f"BM_ScheduleDecision/{name}/1"), m.get(f"BM_ScheduleDecision/{name}/100")
        if not one or not hundred:
            continue
        per = (hundred[0] / hundred[2], hundred[1] / hundred[2])
        lines.append(f"| {name} | {one[0]:.2f} / {one[1]:.2f} | {per[0]:.2f} / {per[1]:.2f} | ≤ 10 µs |")
    direct = m.get("BM_DirectBackendRun/real_time")
    engine = m.get("BM_EngineRequest/heft/real_time")
    if direct and engine:
        lines += ["", "| request (4-op model, one CPU thread) | µs wall | µs CPU (submitting thread) |",
                  "| --- | ---: | ---: |",
                  f"| direct `Session::Run` | {direct[0]:.1f} | {direct[1]:.1f} |",
                  f"| through the engine (`Submit(...).get()`, heft) | {engine[0]:.1f} | {engine[1]:.1f} |",
                  f"| overhead (goal ≤ 50 µs) | {engine[0] - direct[0]:.1f} | {engine[1] - direct[1]:.1f} |"]
    return "\n".join(lines) + "\n"


def markdown(results, reps):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [SECTION, "",
             f"Script: `bench/engine.py` ({now}; machine: {machine()}). Each workload runs for its duration on "
             f"each processor alone and on all processors at once, interleaved, {reps} repetitions; throughput is "
             "the median of completed requests per second over the repetitions, the ratio is all-processors ÷ "
             "best single processor (higher is better). Load is the median 1-minute load average while it ran "
             "(other builds share the machine).", ""]
    for res in results:
        lines += [f"**{res['workload']}** ({res['models']}; {res['duration']} s per run; load {res['load']:.1f})", "",
                  "| setup | throughput (req/s) | ratio vs best single | p99 (ms) | median utilisation | counts add up |",
                  "| --- | ---: | ---: | ---: | ---: | --- |"]
        base = res["best_single"]["tput"] if res["best_single"] else None
        for r in res["rows"]:
            ratio = f"{r['tput'] / base:.2f}×" if base else "-"
            p99 = f"{r['p99']:.1f}" if r["p99"] is not None else "-"
            lines.append(f"| {r['label']} | {r['tput']:.2f} | {ratio} | {p99} | {r['util'] * 100:.0f}% | "
                         f"{'yes' if r['counts_ok'] else 'NO'} |")
        if "slo" in res:
            single = [(label, rate) for label, (kind, rate) in res["slo"].items() if kind == "single"]
            base_rate = single[0][1] if single else 0
            lines += ["", "Highest total Poisson rate with ≥ 99% of requests within their SLO (rates tried in "
                      "increasing order until one missed):", "",
                      "| setup | highest rate (req/s) | ratio vs best single |", "| --- | ---: | ---: |"]
            for label, (kind, rate) in res["slo"].items():
                ratio = f"{rate / base_rate:.2f}×" if base_rate > 0 else "-"
                lines.append(f"| {label} | {rate:g} | {ratio} |")
        lines.append("")
    return "\n".join(lines)


def write_section(text):
    """The section (`text` starts with its heading) replaces the old one, by bench/doc_section.py."""
    body = text.split("\n", 1)[1] if text.startswith(SECTION) else text
    subprocess.run([sys.executable, os.path.join(ROOT, "bench/doc_section.py"), DOC, SECTION], input=body,
                   text=True, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", default=[os.path.join(ROOT, "bench/workloads/two_cpu_streams.json")])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=None, help="seconds per run (overrides the configs)")
    ap.add_argument("--schedulers", default="heft", help="schedulers for the all-processors runs")
    ap.add_argument("--alone", default="", help="processors that also run alone (default: all)")
    ap.add_argument("--groups", default="", help="extra setups of processor subsets, e.g. \"gpu+gpu_s2\"")
    ap.add_argument("--slo-rates", default="", help="total Poisson rates to try for the SLO goal")
    ap.add_argument("--no-micro", action="store_true", help="skip the engine_bench microbenchmarks")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit(f"engine.py: build tutti first ({BIN})")
    with tempfile.TemporaryDirectory() as tmp:
        results = [bench_workload(w, args, tmp) for w in args.workloads]
    text = markdown(results, args.reps)
    if not args.no_micro:
        if os.access(MICRO, os.X_OK):
            load = os.getloadavg()[0]
            text += "\n" + micro_markdown(micro(args.reps), load)
        else:
            print(f"engine.py: no {MICRO} (Google Benchmark not found at build time); skipping the overhead table",
                  file=sys.stderr)
    text += "\n" + NOTE
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
