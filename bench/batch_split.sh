#!/usr/bin/env bash
# One batch across processors (issue 5, seed 003): on this machine, two CPU processors (one core
# each) with a CPU-bound background process pinned to the second core, so the two are unequal.
# Per model, in one `tutti bench --split batch --baselines` call (runs interleaved, so they share
# the machine's load): the greedy split, the exact plan, an equal split and each processor alone.
# Reports achieved/ideal (ideal = B / sum of each processor's best throughput from its own table),
# speed-up over the best single processor and over the equal split, greedy vs exact predicted time,
# measured vs predicted. Rewrites its section of docs/benchmarks.md.
#
# usage: bench/batch_split.sh [--models "squeezenet1_1 mobilenet_v2"] [--batch 32] [--iters 5]
#                             [--processors cpu:0,cpu:1] [--load-core 1] [--no-load] [--no-write]
#                             [--profile-runs 3]   (timed runs per profiled batch size, median)
# GPU rows (CPU cores + cuda:0, ResNet-50 over several GPUs) need the CUDA backend and a run on the
# GPU machine: the same command with --processors cpu,cuda:0 (see docs/benchmarks.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${TUTTI_BIN:-$ROOT/build/release/bin/tutti}
DATA=${TUTTI_TESTDATA:-$ROOT/build/testdata}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
models="squeezenet1_1 mobilenet_v2" batch=32 iters=5 procs=cpu:0,cpu:1 load_core=1 load=1 write=1 pruns=3
while (($#)); do
  case "$1" in
    --models) models=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --profile-runs) pruns=$2; shift 2 ;;
    --processors) procs=$2; shift 2 ;;
    --load-core) load_core=$2; shift 2 ;;
    --no-load) load=0; shift ;;
    --no-write) write=0; shift ;;
    *) echo "batch_split.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || { echo "batch_split.sh: build tutti first ($BIN)" >&2; exit 1; }
out=$(mktemp -d)
hog=""
cleanup() { if [ -n "$hog" ]; then kill "$hog" 2>/dev/null || true; fi; }
trap cleanup EXIT
if [ "$load" = 1 ]; then
  # The background load: one busy loop pinned to one core, for the whole run (profiling included,
  # so the tables see the slowed core as it is).
  taskset -c "$load_core" sh -c 'while :; do :; done' &
  hog=$!
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for m in $models; do
  model=$DATA/models/$m.onnx
  [ -f "$model" ] || { echo "batch_split.sh: missing $model (scripts/make-testdata.sh)" >&2; continue; }
  echo "batch_split.sh: $m batch $batch over $procs" >&2
  if ! "$BIN" bench "$model" --split batch --processors "$procs" --batch "$batch" --baselines \
       --iterations "$iters" --warmup 1 --profile "$out/profile.json" --profile-runs "$pruns" --json \
       > "$out/$m.json" 2> "$out/$m.err"; then
    echo "batch_split.sh: $m failed: $(tail -1 "$out/$m.err")" >&2
  fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cleanup; hog=""

"$PY" - "$out" "$batch" "$iters" "$procs" "$load" "$load_core" "$load_before" "$load_after" "$write" \
      "$ROOT/docs/benchmarks.md" "$pruns" <<'EOF'
import datetime, glob, json, os, platform, sys
out, batch, iters, procs, load, load_core, lb, la, write, doc, pruns = sys.argv[1:12]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
rows, pred_rows = [], []
for f in sorted(glob.glob(os.path.join(out, "*.json"))):
    if f.endswith("profile.json"): continue
    m = os.path.basename(f)[:-5]
    try: j = json.load(open(f))
    except Exception:
        err = open(f[:-5] + ".err").read().strip().splitlines()
        rows.append(f"| {m} | failed: {err[-1] if err else '?'} |" + " |" * 9); continue
    v = j["variants"]
    singles = {k.split(":", 1)[1]: x["median_ms"] for k, x in v.items() if k.startswith("single:")}
    shares = " + ".join(f"{s['items']} on {s['processor']}" for s in j["plan"]["shares"])
    sp = v["split"]["median_ms"]
    fmt = lambda x: f"{x:.0f}"
    rows.append(f"| {m} | {j['batch']} | {shares} | {fmt(sp)} | "
                + " / ".join(f"{fmt(t)}" for t in singles.values())
                + f" | {fmt(v['equal']['median_ms'])} | {fmt(j['ideal_ms'])} | {100 * j['achieved_over_ideal']:.0f}% | "
                f"{j['speedup_over_best_single']:.2f}× | {j['speedup_over_equal']:.2f}× |")
    g, e = j["greedy_predicted_ms"], j["exact_predicted_ms"]
    pred_rows.append(f"| {m} | {fmt(g)} | {fmt(e)} | {100 * (g / e - 1):.1f}% | {fmt(v['split']['predicted_ms'])} | "
                     f"{fmt(sp)} | {100 * (sp / v['split']['predicted_ms'] - 1):+.0f}% | "
                     f"{v['exact']['median_ms']:.0f} |")
names = " / ".join(p for p in procs.split(","))
loadtxt = (f"a CPU-bound busy loop pinned to core {load_core} (taskset) for the whole run, profiling included"
           if load == "1" else "no background load of our own")
text = [f"Script: `bench/batch_split.sh` ({datetime.date.today().isoformat()}). Machine: {cpu}, "
        f"{os.cpu_count()} cores, shared with the other helpers' builds (load average {lb} before, {la} after). "
        f"Processors {procs}, one core and one thread each; load: {loadtxt}. "
        f"Tables: medians of {pruns} timed runs per batch size. "
        f"Medians of {iters} runs after 1 warm-up, all variants interleaved run by run in one process; "
        "every split runs the plan made from the tables before the timed runs. "
        "Times in ms for the whole batch. Ideal = B ÷ Σ (each processor's best items/s from its own table). "
        "Speed-ups read baseline ÷ split (> 1 is better).", "",
        f"| model | B | greedy shares | split | alone ({names}) | equal split | ideal | achieved/ideal | vs best single | vs equal |",
        "|---|---|---|---|---|---|---|---|---|---|"] + rows + [
        "", "Plans: greedy vs exact predicted time (goal ≤ 5%), and measured vs predicted (goal within 10%):", "",
        "| model | greedy predicted | exact predicted | greedy over exact | split predicted | split measured | measured vs predicted | exact plan measured |",
        "|---|---|---|---|---|---|---|---|"] + pred_rows
block = "\n".join(text) + "\n"
print(block)
if write == "1":
    lines = open(doc).read().split("\n")
    head = "## One batch across processors (issue 5)"
    if head not in lines: lines += ["", head, ""]
    i = lines.index(head)
    k = i + 1
    while k < len(lines) and not lines[k].startswith("## "): k += 1
    # Hand-written notes below the generated tables (the "### " subsection) are kept.
    notes = [l for l in lines[i + 1:k]]
    keep = notes[notes.index("### What limits it"):] if "### What limits it" in notes else []
    new = lines[:i + 1] + [""] + block.rstrip("\n").split("\n") + [""] + keep + ([""] if keep and keep[-1] != "" else []) + lines[k:]
    open(doc, "w").write("\n".join(new))
EOF
