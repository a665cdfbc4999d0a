// ONNX Runtime (CPU, from the npm package onnxruntime-node) timed the way `tutti bench` times tutti:
// one model per process, random input, warm-up runs, then a median over timed whole-session runs.
// usage: node ort_bench.js MODEL.onnx [--threads N] [--batch N] [--iters N] [--warmup N]
// prints one JSON line: latency_ms {median,min,max}, peak_rss_bytes (the process's high-water mark,
// from getrusage) and baseline_rss_bytes (the high-water mark after loading node and the ORT
// library, before the session exists) so readers can tell the runtime's own memory from node's.
'use strict';
const ort = require('onnxruntime-node');

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : dflt;
}
const maxRssBytes = () => process.resourceUsage().maxRSS * 1024;  // maxRSS is in KiB

(async () => {
  const threads = +arg('threads', 1), batch = +arg('batch', 1), iters = +arg('iters', 10), warmup = +arg('warmup', 3);
  const model = process.argv.slice(2).find((a) => a.endsWith('.onnx'));
  if (!model) throw new Error('usage: node ort_bench.js MODEL.onnx [--threads N] [--batch N] [--iters N]');
  const baseline = maxRssBytes();
  const t0 = process.hrtime.bigint();
  const s = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const name = s.inputNames[0];
  const meta = s.inputMetadata ? s.inputMetadata.find((m) => m.name === name) : null;
  // Symbolic dims: the leading one is the batch; any other is an image side (the models here are 224²).
  const shape = meta && meta.shape ? meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? batch : 224))
                                   : [batch, 3, 224, 224];
  shape[0] = batch;
  const n = shape.reduce((a, b) => a * b, 1);
  const x = new ort.Tensor('float32', Float32Array.from({ length: n }, () => Math.random() - 0.5), shape);
  for (let i = 0; i < warmup; i++) await s.run({ [name]: x });
  const ms = [];
  for (let i = 0; i < iters; i++) {
    const t = process.hrtime.bigint();
    await s.run({ [name]: x });
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const k = ms.length;
  const median = k % 2 ? ms[k >> 1] : (ms[k / 2 - 1] + ms[k / 2]) / 2;
  console.log(JSON.stringify({
    runtime: 'onnxruntime-' + require('onnxruntime-node/package.json').version, model, threads, batch, shape,
    iterations: k, load_ms: loadMs, latency_ms: { median, min: ms[0], max: ms[k - 1] },
    peak_rss_bytes: maxRssBytes(), baseline_rss_bytes: baseline,
  }));
})().catch((e) => { console.error('ort_bench: ' + e.message); process.exit(1); });
