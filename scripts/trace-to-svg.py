#!/usr/bin/env python3
"""Draws a Chrome trace-event file (what `tutti workload --trace` writes) as an SVG timeline.

Perfetto is the viewer to explore a trace in; this makes a still picture of one for documents and
reviews, where a screenshot would need a browser: one track per processor (thread_name metadata),
one bar per subgraph execution coloured by model, copies hatched, failed stages outlined in red,
and the fallback chains of a request (flow events) as thin arrows from one track to the next.

    usage: scripts/trace-to-svg.py TRACE.json OUT.svg [--from MS] [--span MS] [--width PX] [--title TEXT]

--from/--span pick a window (milliseconds from the first event); by default the whole trace.
"""
import argparse
import html
import json
import sys

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac"]
TRACK_H, BAR_H, LEFT, TOP, AXIS_H, LEGEND_H = 36, 24, 250, 34, 26, 26


def load_events(path):
    with open(path) as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    if not isinstance(events, list):
        raise ValueError(f"{path}: no traceEvents array")
    return events


def model_of(event):
    """The model a slice belongs to: its args.model, else its name before ' ['."""
    args = event.get("args") or {}
    return str(args.get("model") or event.get("name", "?").split(" [")[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("out")
    ap.add_argument("--from", dest="start_ms", type=float, default=None)
    ap.add_argument("--span", dest="span_ms", type=float, default=None)
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    try:
        events = load_events(a.trace)
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        sys.exit(f"trace-to-svg: {a.trace}: {e}")

    names = {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[e.get("tid")] = str((e.get("args") or {}).get("name", e.get("tid")))
    slices = [e for e in events if e.get("ph") == "X" and "ts" in e and "dur" in e]
    if not slices:
        sys.exit(f"trace-to-svg: {a.trace}: no complete ('X') events to draw")
    t0 = min(e["ts"] for e in slices)
    lo = t0 + (a.start_ms or 0) * 1000
    hi = lo + a.span_ms * 1000 if a.span_ms else max(e["ts"] + e["dur"] for e in slices)
    if hi <= lo:
        sys.exit("trace-to-svg: the window is empty")
    shown = [e for e in slices if e["ts"] < hi and e["ts"] + e["dur"] > lo]
    tids = sorted(set(names) | {e.get("tid") for e in shown}, key=lambda t: (str(type(t)), t))
    row = {t: i for i, t in enumerate(tids)}
    models = sorted({model_of(e) for e in shown if e.get("cat") != "copy"})
    colour = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}

    plot_w = a.width - LEFT - 20
    x = lambda ts: LEFT + (min(max(ts, lo), hi) - lo) / (hi - lo) * plot_w
    height = TOP + len(tids) * TRACK_H + AXIS_H + LEGEND_H + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{a.width}" height="{height}" '
           f'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
           '<defs><pattern id="copy" width="6" height="6" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ddd"/>'
           '<line x1="0" y1="0" x2="0" y2="6" stroke="#888" stroke-width="2"/></pattern>'
           '<marker id="arrow" markerWidth="6" markerHeight="6" refX="5" refY="3" orient="auto">'
           '<path d="M0,0 L6,3 L0,6 z" fill="#333"/></marker></defs>',
           f'<rect width="{a.width}" height="{height}" fill="white"/>']
    title = a.title or f"{a.trace}: {len(shown)} slices on {len(tids)} processors"
    out.append(f'<text x="10" y="20" font-size="14" font-weight="bold">{html.escape(title)}</text>')
    for t, i in row.items():
        y = TOP + i * TRACK_H
        out.append(f'<rect x="{LEFT}" y="{y}" width="{plot_w}" height="{TRACK_H - 2}" fill="{"#f6f6f6" if i % 2 else "#fbfbfb"}"/>')
        # tutti names a track "processor: details"; the name on top, the details below in grey.
        name, _, details = names.get(t, str(t)).partition(": ")
        out.append(f'<text x="{LEFT - 8}" y="{y + (13 if details else TRACK_H / 2 + 4)}" text-anchor="end" '
                   f'font-weight="bold">{html.escape(name[:40])}</text>')
        if details:
            out.append(f'<text x="{LEFT - 8}" y="{y + 27}" text-anchor="end" fill="#666" font-size="10">'
                       f'{html.escape(details[:48])}</text>')
    for e in shown:
        y = TOP + row[e.get("tid")] * TRACK_H + (TRACK_H - 2 - BAR_H) / 2
        x0, x1 = x(e["ts"]), x(e["ts"] + e["dur"])
        w = max(x1 - x0, 0.6)
        copy = e.get("cat") == "copy"
        fill = "url(#copy)" if copy else colour[model_of(e)]
        stroke = ' stroke="#d00" stroke-width="2"' if e.get("cat") == "failed" else ' stroke="white" stroke-width="0.5"'
        tip = html.escape(f'{e.get("name")} ({e["dur"] / 1000:.2f} ms)')
        out.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{BAR_H}" fill="{fill}"{stroke}><title>{tip}</title></rect>')
        if not copy and w > 60:
            label = html.escape(e.get("name", "")[: int(w / 7)])
            out.append(f'<text x="{x0 + 3:.1f}" y="{y + BAR_H / 2 + 4:.1f}" fill="white" font-size="11">{label}</text>')
    # Fallback chains: a flow starts ('s') on one track and finishes ('f') on the next stage's track.
    starts = {e.get("id"): e for e in events if e.get("ph") == "s"}
    for f in (e for e in events if e.get("ph") == "f"):
        s = starts.get(f.get("id"))
        if not s or not (lo <= s["ts"] <= hi and lo <= f["ts"] <= hi) or s.get("tid") not in row or f.get("tid") not in row:
            continue
        y0 = TOP + row[s["tid"]] * TRACK_H + TRACK_H / 2
        y1 = TOP + row[f["tid"]] * TRACK_H + TRACK_H / 2
        # The flow starts at its stage's start; the arrow leaves from where that stage ends.
        src = next((e for e in shown if e.get("tid") == s["tid"] and e["ts"] <= s["ts"] < e["ts"] + max(e["dur"], 1)), None)
        sx = src["ts"] + src["dur"] if src else s["ts"]
        out.append(f'<line x1="{x(sx):.1f}" y1="{y0:.1f}" x2="{x(f["ts"]):.1f}" y2="{y1:.1f}" '
                   'stroke="#333" stroke-width="0.8" marker-end="url(#arrow)"/>')
    # Time axis: about ten ticks at a round step.
    axis_y = TOP + len(tids) * TRACK_H + 4
    span_ms = (hi - lo) / 1000
    step = next(s for s in [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 1e4, 1e9] if span_ms / s <= 12)
    out.append(f'<line x1="{LEFT}" y1="{axis_y}" x2="{LEFT + plot_w}" y2="{axis_y}" stroke="#555"/>')
    k = 0
    while k * step <= span_ms + 1e-9:
        tx = LEFT + k * step / span_ms * plot_w
        out.append(f'<line x1="{tx:.1f}" y1="{axis_y}" x2="{tx:.1f}" y2="{axis_y + 5}" stroke="#555"/>')
        out.append(f'<text x="{tx:.1f}" y="{axis_y + 17}" text-anchor="middle" fill="#555">'
                   f'{(lo - t0) / 1000 + k * step:g} ms</text>')
        k += 1
    ly = axis_y + AXIS_H + 8
    lx = LEFT
    for m in models + ["copy"]:
        fill = "url(#copy)" if m == "copy" else colour[m]
        out.append(f'<rect x="{lx}" y="{ly}" width="14" height="12" fill="{fill}"/>')
        out.append(f'<text x="{lx + 18}" y="{ly + 10}">{html.escape(m)}</text>')
        lx += 30 + 7 * len(m)
    out.append("</svg>")
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"trace-to-svg: {a.out}: {len(shown)} slices, {len(tids)} tracks, {span_ms:.1f} ms")


if __name__ == "__main__":
    main()
