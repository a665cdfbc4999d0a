#!/usr/bin/env bash
# Asymmetric CPU cores (issue 6; AsyMo, seed 001): the seed's interference experiment. A CPU-bound
# background process is pinned to some cores (taskset), so those cores run at a fraction of the
# others' speed; then, at batch 1 and one thread per core, side by side in one call:
#   asymmetric     tutti --cpu-partition asymmetric (cost-model blocks, speed split, shortest queue, stealing)
#   equal          the same block kernels cut into one equal piece per core (what OpenMP's static split does)
#   blocks-only    cost-model blocks placed statically by measured speed (the seed's "partitioning alone")
#   schedule-only  the equal pieces on the shortest queue with stealing (the seed's "scheduling alone")
#   onednn         oneDNN's own OpenMP threading of each whole operator
#   ort            ONNX Runtime (bench/peers, npm onnxruntime-node) with the same thread count
# plus asymmetric and equal without the background process (the no-interference row), and each
# core's single-thread latency under the same load, from which the ideal is the work divided by the
# sum of the cores' effective speeds: 1 / sum_i(1 / T_i).
# Models: ResNet-50, VGG-16, MobileNetV2 (build/testdata, scripts/make-testdata.sh) and an FC-dominant
# stack of large Gemms exported here with PyTorch. Repetitions are the outer loop, configurations
# interleaved inside, so load from other processes falls on all alike; a figure is the median over
# repetitions of each process's median. Rewrites the "Asymmetric CPU cores" section of docs/benchmarks.md.
#
# usage: bench/asymo.sh [--models "resnet50 vgg16 mobilenet_v2 fc_stack"] [--reps 3] [--iters 8]
#                       [--core-iters N] [--threads N] [--bg-cores "LIST"] [--no-write] [--keep DIR]
#                       [--tables-from DIR]   (only re-make the tables from a --keep DIR of an earlier run)
# env:   TUTTI_BIN (default build/release/bin/tutti), TUTTI_TESTDATA (default build/testdata),
#        TUTTI_PEERS (default bench/peers: ort_bench.js with node_modules/onnxruntime-node), TUTTI_PYTHON
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${TUTTI_BIN:-$ROOT/build/release/bin/tutti}
DATA=${TUTTI_TESTDATA:-$ROOT/build/testdata}
PEERS=${TUTTI_PEERS:-$ROOT/bench/peers}
PY=${TUTTI_PYTHON:-/usr/bin/python3}  # the one with torch (and onnxruntime, for the peer where node is missing)
ncores=$(nproc)
models="resnet50 vgg16 mobilenet_v2 fc_stack" reps=3 iters=8 core_iters="" tables_only=0 threads=$ncores bg_cores="" write=1 keep=""
while (($#)); do
  case "$1" in
    --models) models=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --core-iters) core_iters=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --bg-cores) bg_cores=$2; shift 2 ;;
    --no-write) write=0; shift ;;
    --keep) keep=$2; shift 2 ;;
    --tables-from) keep=$2; tables_only=1; shift 2 ;;
    *) echo "asymo.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
# Each core's single-thread run is the slow part on many cores; fewer iterations keep it bounded.
core_iters=${core_iters:-$iters}
# The seed's setting: the background load on half of the cores (one core on a 2-core machine).
if [ -z "$bg_cores" ]; then
  half=$((threads / 2)); ((half >= 1)) || half=1
  bg_cores=$(seq -s' ' $((threads - half)) $((threads - 1)))
fi
[ -x "$BIN" ] || { echo "asymo.sh: build tutti first ($BIN)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "asymo.sh: taskset is missing (util-linux)" >&2; exit 1; }
# The peer: the npm package where node has it, else ONNX Runtime's Python wheel (the GPU machine has
# that and no node); both print the same JSON line.
ort_peer=()
if [ -f "$PEERS/ort_bench.js" ] && [ -d "$PEERS/node_modules/onnxruntime-node" ] && command -v node >/dev/null; then
  ort_peer=(node "$PEERS/ort_bench.js")
elif "$PY" -c "import onnxruntime" 2>/dev/null; then
  ort_peer=("$PY" "$ROOT/bench/peers/ort_bench.py")
else
  echo "asymo.sh: no ONNX Runtime peer (cd bench/peers && npm install --ignore-scripts); its column stays empty" >&2
fi

out=${keep:-$(mktemp -d)}
mkdir -p "$out"
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$keep" ] || rm -rf "$out"
}
trap cleanup EXIT

# The FC-dominant model: four 4096x4096 Gemms and a 4096x1000 one (VGG's classifier, deeper).
model_path() {
  if [ "$1" = fc_stack ]; then echo "$out/fc_stack.onnx"; else echo "$DATA/models/$1.onnx"; fi
}
if [[ " $models " == *" fc_stack "* ]]; then
  "$PY" - "$out/fc_stack.onnx" <<'EOF'
import sys, torch
torch.manual_seed(0)
layers = []
for _ in range(4):
    layers += [torch.nn.Linear(4096, 4096), torch.nn.ReLU()]
layers.append(torch.nn.Linear(4096, 1000))
m = torch.nn.Sequential(*layers).eval()
import inspect  # torch >= 2.9 defaults to the dynamo exporter (opset 18); the TorchScript one as export_torchvision.py
kw = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
torch.onnx.export(m, torch.randn(1, 4096), sys.argv[1], input_names=["input"], output_names=["output"], opset_version=13, **kw)
EOF
fi
for m in $models; do
  [ -f "$(model_path "$m")" ] || { echo "asymo.sh: missing $(model_path "$m") (scripts/make-testdata.sh)" >&2; exit 1; }
done

start_bg() {
  for c in $bg_cores; do
    taskset -c "$c" /bin/sh -c 'while :; do :; done' &
    bg_pids+=($!)
  done
  sleep 0.5
}
stop_bg() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  bg_pids=()
}

# run TAG CMD...: one process; its JSON line to $out/TAG.json.
run() {
  local tag=$1; shift
  if ! "$@" > "$out/$tag.json" 2> "$out/$tag.err"; then
    echo "asymo.sh: $tag failed: $(tail -1 "$out/$tag.err")" >&2
    rm -f "$out/$tag.json"
  fi
}
tutti() {  # tutti MODEL PARTITION [extra...]
  local m=$1 p=$2; shift 2
  "$BIN" bench "$(model_path "$m")" --threads "$threads" --cpu-partition "$p" --iterations "$iters" --warmup 3 --json --quiet "$@"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
((tables_only)) && reps_to_run=0 || reps_to_run=$reps
partitions="asymmetric equal blocks-only schedule-only onednn"
allowed=$(seq -s' ' 0 $((threads - 1)))
for ((r = 1; r <= reps_to_run; r++)); do
  echo "asymo.sh: repetition $r/$reps (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  for m in $models; do
    # No interference first: asymmetric must not lose to the equal split on equal cores.
    run "$m.quiet.asymmetric.$r" tutti "$m" asymmetric
    run "$m.quiet.equal.$r" tutti "$m" equal
    start_bg
    for p in $partitions; do run "$m.load.$p.$r" tutti "$m" "$p"; done
    if ((${#ort_peer[@]})); then
      run "$m.load.ort.$r" "${ort_peer[@]}" "$(model_path "$m")" --threads "$threads" --batch 1 --iters "$iters"
    fi
    # Each core's effective speed for this model under the same load: one thread pinned there.
    for c in $allowed; do
      run "$m.load.core$c.$r" taskset -c "$c" "$BIN" bench "$(model_path "$m")" --threads 1 --cpu-partition onednn \
        --iterations "$core_iters" --warmup 1 --json --quiet
    done
    stop_bg
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

table=$("$PY" - "$out" "$models" "$reps" "$allowed" <<'EOF'
import json, os, statistics, sys
out, models, reps, cores = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), sys.argv[4].split()
def med(tag):
    xs = []
    for r in range(1, reps + 1):
        p = os.path.join(out, f"{tag}.{r}.json")
        if not os.path.exists(p) or os.path.getsize(p) == 0: continue
        text = open(p).read().strip()
        try: j = json.loads(text)  # tutti bench --json prints one indented object
        except ValueError:
            try: j = json.loads(text.splitlines()[-1])  # the peers print one line, maybe after logs
            except ValueError: continue  # a run that printed something else: its cell stays empty
        lat = j.get("latency_ms", {})
        xs.append(lat.get("median") if isinstance(lat, dict) else j.get("median_ms"))
    xs = [x for x in xs if x]
    return statistics.median(xs) if xs else None
def f(x, d=1): return "—" if x is None else f"{x:.{d}f}"
def ratio(a, b): return None if a is None or b is None else a / b
rows, quiet, brk = [], [], []
for m in models:
    a, e, bo, so, od, ort = (med(f"{m}.load.{p}") for p in ["asymmetric", "equal", "blocks-only", "schedule-only", "onednn", "ort"])
    per_core = [med(f"{m}.load.core{c}") for c in cores]
    ideal = None if any(t is None for t in per_core) else 1 / sum(1 / t for t in per_core)
    rows.append(f"| {m} | {f(a)} | {f(e)} | {f(od)} | {f(ort)} | {f(ideal)} | {f(ratio(e, a), 2)} | {f(ratio(ort, a), 2)} | {f(ratio(ideal, a), 2)} |")
    brk.append(f"| {m} | {f(e)} | {f(bo)} | {f(so)} | {f(a)} | {f(ratio(e, bo), 2)} | {f(ratio(e, so), 2)} | {f(ratio(e, a), 2)} |")
    qa, qe = med(f"{m}.quiet.asymmetric"), med(f"{m}.quiet.equal")
    quiet.append(f"| {m} | {f(qa)} | {f(qe)} | {f(ratio(qa, qe), 3)} |")
print("Under interference (latency ms, median; ratios > 1 mean asymmetric is faster; goals: equal/asym ≥ 1.3, ORT/asym ≥ 1.2, ideal/asym ≥ 0.85):\n")
print("| model | asymmetric | equal | oneDNN (OpenMP) | ONNX Runtime | ideal | equal ÷ asym | ORT ÷ asym | ideal ÷ asym |")
print("|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
print("\nThe seed's breakdown under the same load (latency ms; gain = equal ÷ that column):\n")
print("| model | equal | blocks only | scheduling only | both (asymmetric) | gain: blocks alone | gain: scheduling alone | gain: both |")
print("|---|---|---|---|---|---|---|---|")
print("\n".join(brk))
print("\nNo interference (latency ms; goal asym ÷ equal ≤ 1.02):\n")
print("| model | asymmetric | equal | asym ÷ equal |")
print("|---|---|---|---|")
print("\n".join(quiet))
EOF
)
echo "$table"

if ((write)); then
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  body=$(cat <<EOF
Script: \`bench/asymo.sh\` (run $(date -u '+%Y-%m-%d %H:%M UTC')). Machine: ${cpu}, ${ncores} cores; tutti at
${threads} threads, batch 1, one pinned worker per core; background: a busy loop pinned with taskset to
core(s) ${bg_cores}. Medians over ${reps} repetitions of ${iters} timed runs each. Machine load average
before/after: ${load_before} / ${load_after} (other processes share this machine; ratios come from one
interleaved run). Ideal = 1 / Σ 1/T_core, T_core being the model's single-thread latency pinned to
that core under the same load.

${table}
EOF
)
  echo "$body" | python3 "$ROOT/bench/doc_section.py" "$ROOT/docs/benchmarks.md" "## Asymmetric CPU cores (issue 6)"
  echo "asymo.sh: wrote the section into docs/benchmarks.md" >&2
fi
