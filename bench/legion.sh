#!/usr/bin/env bash
# One image across networked devices (issue 7, Legion): VGG-16, ResNet-18 and MobileNetV2 over 2, 3
# and 4 unequal test-bed devices (scripts/testbed.sh: namespaces + veth + tc tbf at 100 Mbit/s, or
# loopback workers shaping their own links where namespaces are not allowed), against the fastest
# single device and the layer-by-layer split; the optimizer's search time against the full search;
# the predictor's median absolute error. Rewrites its section of docs/benchmarks.md.
#
# usage: bench/legion.sh [--models "vgg16 resnet18 mobilenet_v2"] [--devices "2 3 4"] [--rate 100mbit]
#                        [--reps 3] [--iters 3] [--full "resnet18:2"]   (model:devices pairs that
#                        also run the full search: it measures every candidate group, O(units^2), and
#                        takes hours for VGG-16 or MobileNetV2 on a 2-core host)
#                        [--cpu-limit auto|none|P1,P2,...]   (test-bed CPU caps; auto: 100,50,33,25
#                        on machines with fewer than 8 cores, where core sets cannot make devices
#                        unequal) [--no-write]
#                        [--keep DIR]   (each run's files land in DIR as it finishes, so a run cut
#                        off by a time limit still leaves the finished ones)
#                        [--tables-from DIR]   (only make the tables from a --keep DIR; runs nothing)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${TUTTI_BIN:-$ROOT/build/release/bin/tutti}
DATA=${TUTTI_TESTDATA:-$ROOT/build/testdata}
STATE=${TUTTI_TESTBED_DIR:-/tmp/tutti-testbed}
models="vgg16 resnet18 mobilenet_v2" devices="2 3 4" rate=100mbit reps=3 iters=3 full="" write=1 limit=auto
keep="" tables_only=0
while (($#)); do
  case "$1" in
    --models) models=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --cpu-limit) limit=$2; shift 2 ;;
    --full) full=$2; shift 2 ;;
    --no-write) write=0; shift ;;
    --keep) keep=$2; shift 2 ;;
    --tables-from) keep=$2; tables_only=1; shift 2 ;;
    *) echo "legion.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if ((tables_only)); then
  [ -s "$keep/machine" ] || { echo "legion.sh: '$keep' holds no kept run (no machine file)" >&2; exit 1; }
else
  [ -x "$BIN" ] || { echo "legion.sh: build tutti first ($BIN)" >&2; exit 1; }
fi
out=${keep:-$(mktemp -d)}
mkdir -p "$out"
if [ "$limit" = auto ]; then
  if (( $(nproc) < 8 )); then limit=100,50,33,25; else limit=none; fi
fi
caps=(); [ "$limit" != none ] && caps=(--cpu-limit "$limit")
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
cleanup() {
  ((tables_only)) || "$ROOT/scripts/testbed.sh" down >/dev/null 2>&1 || true
  [ -n "$keep" ] || rm -rf "$out"
}
trap cleanup EXIT

# What the tables say about the run: rewritten after every finished run, so a kept folder cut off
# by a time limit describes what it holds.
note_machine() {
  local cpu; cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $cpu, $(nproc) cores; load average $load_start at the start," \
       "$(cut -d' ' -f1-3 /proc/loadavg) at the end; test bed: ${mode:-?}, cpu caps ${limit}" > "$out/machine"
  echo "$rate" > "$out/rate"; echo "$reps" > "$out/reps"; echo "${mode:-?}" > "$out/mode"
}

runs_total=0
for n in $devices; do for m in $models; do runs_total=$((runs_total + 1)); done; done
((tables_only)) && run_devices="" || run_devices=$devices
t_start=$SECONDS run_index=0
for n in $run_devices; do
  "$ROOT/scripts/testbed.sh" down >/dev/null 2>&1 || true
  procs=$("$ROOT/scripts/testbed.sh" up "$n" --rate "$rate" "${caps[@]}")
  mode=$(cat "$STATE/mode")
  for m in $models; do
    run_index=$((run_index + 1))
    model=$DATA/models/$m.onnx
    [ -f "$model" ] || { echo "legion.sh: missing $model (scripts/make-testdata.sh)" >&2; continue; }
    search=optimizer
    [[ " $full " == *" $m:$n "* ]] && search=both
    echo "legion.sh: [$run_index/$runs_total] $m on $n devices ($search), started at $((SECONDS - t_start)) s" >&2
    t_run=$SECONDS
    # --input/--expect: every benchmarked plan is also checked against the single-device run and
    # PyTorch's output. Files are written under .part names and renamed when the run ends, so a
    # kept folder never holds half a result.
    tag=$m-$n
    if ! "$BIN" plan-spatial "$model" --processors "$procs" --search "$search" --measure "$reps" --iters "$iters" \
         --input "$DATA/models/$m.input.npy" --expect "$DATA/models/$m.output.npy" \
         --tables "$out/$tag.tables.json.part" --json > "$out/$tag.json.part" 2> "$out/$tag.err"; then
      echo "legion.sh: $m on $n devices failed: $(tail -1 "$out/$tag.err")" >&2
    fi
    [ -e "$out/$tag.tables.json.part" ] && mv "$out/$tag.tables.json.part" "$out/$tag.tables.json"
    mv "$out/$tag.json.part" "$out/$tag.json"
    note_machine
    echo "legion.sh: [$run_index/$runs_total] $m on $n devices done in $((SECONDS - t_run)) s" \
         "(elapsed $((SECONDS - t_start)) s)" >&2
  done
done
((tables_only)) || "$ROOT/scripts/testbed.sh" down >/dev/null 2>&1 || true
[ -s "$out/machine" ] || { echo "legion.sh: no run finished" >&2; exit 1; }
machine=$(cat "$out/machine") rate=$(cat "$out/rate") reps=$(cat "$out/reps") mode=$(cat "$out/mode")

block=$(python3 - "$out" "$rate" "$reps" "$machine" "$mode" <<'EOF'
import json, os, sys, glob, statistics
out, rate, reps, machine, mode = sys.argv[1:6]
rows, search_rows, pred = [], [], []
for f in sorted(glob.glob(os.path.join(out, "*.json"))):
    if f.endswith(".tables.json"): continue
    name = os.path.basename(f)[:-5]
    m, n = name.rsplit("-", 1)
    try: j = json.load(open(f))
    except Exception:
        err = open(f[:-5] + ".err").read().strip().splitlines()
        rows.append(f"| {m} | {n} | failed: {err[-1] if err else '?'} | | | | | |"); continue
    o = j.get("optimizer", {})
    single = j.get("single", {}).get("measured_ms")
    lbl = j.get("layer_by_layer", {}).get("measured_ms")
    opt = o.get("measured_ms")
    fmt = lambda v: f"{v:.1f}" if isinstance(v, (int, float)) else "–"
    ratio = lambda a, b: f"{a / b:.2f}×" if a and b else "–"
    shape = "whole model, one call" if o.get("sole_device", -1) >= 0 else f"{len(o.get('groups', []))} groups"
    chk = j.get("check", {})
    err = chk.get("max_rel_error_vs_single_device")
    check = f"{err:.1e}" if isinstance(err, (int, float)) else "–"
    rows.append(f"| {m} | {n} | {fmt(single)} ({j.get('single', {}).get('device', '?').split(':')[1] if ':' in j.get('single', {}).get('device', '') else j.get('single', {}).get('device', '?')}) "
                f"| {fmt(lbl)} | {fmt(opt)} ({shape}) | {ratio(single, opt)} | {ratio(lbl, opt)} | {check} |")
    if "full" in j:
        fs = j["full"]
        o_s, f_s = o.get('search_s', 0), fs.get('search_s', 0)
        upload = o.get('phases_s', {}).get('upload', 0)
        search_rows.append(f"| {m} | {n} | {o_s:.1f} | {upload:.1f} | {f_s:.1f} | {f_s / max(1e-9, o_s):.1f}× | "
                           f"{f_s / max(1e-9, o_s - upload):.1f}× | {fmt(opt)} | {fmt(fs.get('measured_ms'))} | "
                           f"{ratio(opt, fs.get('measured_ms'))} |")
    if "predictor" in j:
        p = j["predictor"]
        pred.append(f"| {m} | {n} | {p['groups']} | {p['median_abs_error_ms']:.2f} | {100 * p['median_rel_error']:.0f}% |")
link = (f"network namespaces, veth + tc tbf at {rate} each way" if mode == "netns" else
        f"loopback workers shaping their own links to {rate} each way (`tutti worker --link-rate`)")
text = [f"Run: {machine}.", "", f"Script: `bench/legion.sh`. Devices: `scripts/testbed.sh` {link}, "
        "workers pinned to unequal core sets; the coordinator is the host. Latency medians of "
        f"{reps} runs (ms, batch 1). Speed-up = fastest single device ÷ split (≥ 1 is better).", "",
        "| model | devices | fastest single device | layer-by-layer split | optimizer plan | speed-up vs single | vs layer-by-layer | split output vs single device (max rel err) |",
        "|---|---|---|---|---|---|---|---|"] + rows
if search_rows:
    text += ["", "Search cost (s). Optimizer = profiling (the model's weights shipped to every device, link echoes, "
             "every layer's compute timed on the workers at two share sizes, the head) + the search + measuring "
             "the candidates (searched plan, wild card) predicted within 1.5× of the best, and the best device "
             "alone. Full search = measuring every candidate group for real at two share options (transfers "
             "included), then the plan and every device alone; it runs after profiling, so it finds the weights "
             "on the devices already -- the second ratio leaves the upload out of both:", "",
             "| model | devices | optimizer | of which weights upload | full search | full ÷ optimizer | "
             "full ÷ (optimizer − upload) | optimizer plan (ms) | full-search plan (ms) | optimizer ÷ full plan |",
             "|---|---|---|---|---|---|---|---|---|---|"] + search_rows
if pred:
    text += ["", "Predictor fidelity (predicted vs measured group latency, groups of the chosen and the layer-by-layer plans):", "",
             "| model | devices | groups | median abs error (ms) | median rel error |", "|---|---|---|---|---|"] + pred
print("\n".join(text))
EOF
)
echo "$block"
if ((write)); then
  echo "$block" | python3 "$ROOT/bench/doc_section.py" "$ROOT/docs/benchmarks.md" "## One image across networked devices (issue 7)"
  echo "legion.sh: wrote the section into docs/benchmarks.md" >&2
fi
