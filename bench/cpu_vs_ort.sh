#!/usr/bin/env bash
# CPU: tutti vs ONNX Runtime (issue 2, item 7). ResNet-50, MobileNetV2, SqueezeNet 1.0 and ResNet-18
# at batch 1 and 8 with 1 and 2 threads, each runtime in its own process (`tutti bench` and
# bench/peers/ort_bench.js on onnxruntime-node), alternated within one call so machine load falls on
# both alike. Repetitions are the outer loop (every configuration once per repetition, the runtime
# that goes first swapped each time); a configuration's figure is the median over repetitions of
# each process's median latency. Peak resident memory is each process's high-water mark as
# /usr/bin/time reports it. Rewrites the "CPU: tutti vs ONNX Runtime" section of docs/benchmarks.md.
#
# usage: bench/cpu_vs_ort.sh [--models "resnet50 mobilenet_v2 squeezenet1_0 resnet18"] [--batches "1 8"]
#                            [--threads "1 2"] [--reps 5] [--iters 10] [--no-write] [--keep DIR]
#        --keep DIR keeps each process's JSON and RSS there; --reps 0 --keep DIR re-summarises a kept run
# env:   TUTTI_BIN (default build/release/bin/tutti), TUTTI_TESTDATA (default build/testdata)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${TUTTI_BIN:-$ROOT/build/release/bin/tutti}
DATA=${TUTTI_TESTDATA:-$ROOT/build/testdata}
PEERS=$ROOT/bench/peers
models="resnet50 mobilenet_v2 squeezenet1_0 resnet18" batches="1 8" threads="1 2" reps=5 iters=10 write=1 keep=""
while (($#)); do
  case "$1" in
    --models) models=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --no-write) write=0; shift ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "cpu_vs_ort.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || { echo "cpu_vs_ort.sh: build tutti first ($BIN: cmake --preset release && cmake --build --preset release --target tutti_cli)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "cpu_vs_ort.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
command -v node >/dev/null || "$ROOT/scripts/setup-deps.sh" bench
# The peer's CPU library ships inside the npm package; its install script would only fetch a CUDA add-on.
if [ ! -d "$PEERS/node_modules/onnxruntime-node" ]; then
  echo "cpu_vs_ort.sh: installing onnxruntime-node into bench/peers" >&2
  (cd "$PEERS" && npm install --ignore-scripts --no-audit --no-fund >&2)
fi
for m in $models; do
  [ -f "$DATA/models/$m.onnx" ] || { echo "cpu_vs_ort.sh: missing $DATA/models/$m.onnx (scripts/make-testdata.sh)" >&2; exit 1; }
done

out=${keep:-$(mktemp -d)}
mkdir -p "$out"
[ -n "$keep" ] || trap 'rm -rf "$out"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
warmup=3

# run TAG CMD...: one process, its JSON line to $out/TAG.json and its peak RSS (KiB) to $out/TAG.rss.
run() {
  local tag=$1; shift
  if ! /usr/bin/time -f '%M' -o "$out/$tag.rss" "$@" > "$out/$tag.json" 2> "$out/$tag.err"; then
    echo "cpu_vs_ort.sh: $tag failed: $(grep -v '^Command exited' "$out/$tag.err" | tail -1)" >&2
    rm -f "$out/$tag.json"
  fi
}

for ((r = 1; r <= reps; r++)); do
  echo "cpu_vs_ort.sh: repetition $r/$reps (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  i=0
  for m in $models; do for b in $batches; do for t in $threads; do
    model=$DATA/models/$m.onnx
    base=$m.b$b.t$t.r$r
    tutti=(run "$base.tutti" "$BIN" bench "$model" --threads "$t" --batch "$b" --iters "$iters" --warmup "$warmup" --json --quiet)
    ort=(run "$base.ort" node "$PEERS/ort_bench.js" "$model" --threads "$t" --batch "$b" --iters "$iters" --warmup "$warmup")
    if (((r + i) % 2)); then "${tutti[@]}"; "${ort[@]}"; else "${ort[@]}"; "${tutti[@]}"; fi
    i=$((i + 1))
  done; done; done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$out" "$write" "$ROOT/docs/benchmarks.md" "$reps" "$iters" "$warmup" "$load_before" "$load_after" \
          "$models" "$batches" "$threads" <<'EOF'
import datetime, glob, json, os, statistics, sys
out, write, doc, reps, iters, warmup, load_before, load_after, models, batches, threads = sys.argv[1:12]

def median(xs): return statistics.median(xs) if xs else None
def mib(kib): return f"{kib / 1024:.0f}" if kib else "–"

rows, ort_version, ratios, counts = [], "onnxruntime", [], []
for m in models.split():
    for b in batches.split():
        for t in threads.split():
            lat = {"tutti": [], "ort": []}; rss = {"tutti": [], "ort": []}; base = []
            for f in glob.glob(f"{out}/{m}.b{b}.t{t}.r*.*.json"):
                who = f.rsplit(".", 2)[1]
                try: j = json.loads(open(f).read())  # tutti prints indented JSON, the peer one line
                except Exception: continue
                lat[who].append(j["latency_ms"]["median"])
                try: rss[who].append(int(open(f[:-5] + ".rss").read().split()[-1]))
                except Exception: pass
                if who == "ort":
                    ort_version = j.get("runtime", ort_version)
                    base.append(j.get("baseline_rss_bytes", 0) / 1024)
            tl, ol = median(lat["tutti"]), median(lat["ort"])
            tr, orr, ob = median(rss["tutti"]), median(rss["ort"]), median(base)
            ratio = tl / ol if tl and ol else None
            mem_ratio = tr / (orr - ob) if tr and orr and ob else None
            if ratio: ratios.append(ratio)
            counts.append(min(len(lat["tutti"]), len(lat["ort"])))
            fmt = lambda x: f"{x:.1f}" if x else "failed"
            rows.append(f"| {m} | {b} | {t} | {fmt(tl)} | {fmt(ol)} | {ratio:.2f} |" if ratio else
                        f"| {m} | {b} | {t} | {fmt(tl)} | {fmt(ol)} | – |")
            rows[-1] += f" {mib(tr)} | {mib(orr)} | {mib(orr - ob) if orr and ob else '–'} | {f'{mem_ratio:.2f}' if mem_ratio else '–'} | {min(len(lat['tutti']), len(lat['ort']))} |"

cpu = "?"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"): cpu = line.split(":", 1)[1].strip(); break
except OSError: pass
mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
above = sum(1 for r in ratios if r > 1.0)
# Repetitions actually completed (a run cut short, or re-summarised with --reps 0, has fewer).
done = f"{min(counts)}" if counts and min(counts) == max(counts) else f"{min(counts or [0])}-{max(counts or [0])}"
section = f"""## CPU: tutti vs ONNX Runtime (issue 2)

Script: `bench/cpu_vs_ort.sh` (tutti's `bench` command and `bench/peers/ort_bench.js` on {ort_version}
from npm, each configuration in its own process, the two alternated in one call). Measured {date} on
the build machine: {cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB; load average
{load_before} before and {load_after} after (other builds were running). Latency: median over {done}
repetitions of each process's median over {iters} runs after {warmup} warm-ups, float32, random input.
Ratio = tutti ÷ ONNX Runtime (≤ 1.0 means tutti is as fast or faster). Peak RSS is each process's
high-water mark (`/usr/bin/time`); ONNX Runtime runs inside node, so its column minus node's own
high-water mark before the session exists is given too, and the memory ratio is tutti ÷ that.
{above} of {len(ratios)} latency ratios are above 1.0.

| model | batch | threads | tutti ms | ORT ms | ratio | tutti RSS MiB | ORT RSS MiB | ORT − node MiB | RSS ratio | reps |
|---|---|---|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n"
print(section)
if write == "1":
    text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n"
    start = text.find("## CPU: tutti vs ONNX Runtime")
    notes = ""
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + 1)
        old = text[start:] if nxt < 0 else text[start:nxt + 1]
        # Hand-written analysis under "### What limits" survives a re-run.
        k = old.find("### What limits")
        if k >= 0: notes = "\n" + old[k:].rstrip("\n") + "\n"
        text = text[:start] + section + notes + ("\n" + text[nxt + 1:] if nxt >= 0 else "")
    open(doc, "w").write(text)
    print(f"cpu_vs_ort.sh: wrote {doc}", file=sys.stderr)
EOF
