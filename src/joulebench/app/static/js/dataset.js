/* The data: the payload (window.JB_DATA) as typed arrays per model and setup, and the default setup. */
var GPU_ORDER = ["B300", "GB300", "B200", "GB200", "H200", "GH200", "H100", "L40S", "L40", "A100", "L4", "A10", "V100", "T4"];
var RUNTIME_ORDER = ["compile-fp16", "tensorrt-fp16", "compile-bf16", "torch-fp16", "torch-bf16", "onnxruntime", "torch-fp32", "cpu-fp32"];
var dataset; // working data: models (arrays), acc (Float64Array per test set), setups (dense arrays)

function prepare(raw) {
  var m = raw.models;
  var n = m.name.length;
  dataset = {
    n: n,
    name: m.name.slice(), img: m.img.slice(), type: m.type.slice(), family: m.family.slice(),
    year: m.year.slice(), params: m.params.slice(), macs: m.macs.slice(), url: m.url.slice(),
    types: raw.types.slice(), families: raw.families.slice(), testsets: raw.testsets.slice(),
    acc: {}, setups: [], setupById: {}
  };
  // What the first view does not need is built on first use: the test sets not ticked, the setups not shown,
  // the lower-case names (search) and the name indexes (links, uploads).
  raw.testsets.forEach(function (t) { lazy(dataset.acc, t, function () { return denseFrom(raw.acc[t], n); }); });
  dataset.ciWide = typeof raw.ci_wide_rel === "number" ? raw.ci_wide_rel : 0.02; // an interval wider is flagged
  lazy(dataset, "lname", function () { return dataset.name.map(function (x) { return String(x).toLowerCase(); }); });
  var indexes = function () {
    dataset.keyIndex = {}; dataset.nameIndex = {};
    for (var i = 0; i < dataset.n; i++) indexModel(i);
  };
  lazy(dataset, "keyIndex", function () { indexes(); return dataset.keyIndex; });
  lazy(dataset, "nameIndex", function () { indexes(); return dataset.nameIndex; });
  raw.setups.forEach(function (s) { addSetup(s, s.m, s); });
}
/* obj[key] is make() from its first read on; a write before that replaces it unread. */
function lazy(obj, key, make) {
  var settle = function (v) { Object.defineProperty(obj, key, { value: v, writable: true, enumerable: true, configurable: true }); return v; };
  Object.defineProperty(obj, key, { enumerable: true, configurable: true, get: function () { return settle(make()); }, set: settle });
}
function denseFrom(list, n) {
  var a = new Float64Array(n).fill(NaN);
  for (var i = 0; i < list.length && i < n; i++) if (list[i] !== null) a[i] = list[i];
  return a;
}
function indexModel(i) {
  dataset.keyIndex[dataset.name[i] + "@" + dataset.img[i]] = i;
  if (!(dataset.name[i] in dataset.nameIndex)) dataset.nameIndex[dataset.name[i]] = i;
}
function grow(arr, n) {
  var b = new Float64Array(n).fill(NaN);
  b.set(arr.subarray(0, Math.min(arr.length, n)));
  return b;
}
function addSetup(meta, idx, cols) {
  var s = {
    id: meta.id, gpu: meta.gpu || "", runtime: meta.runtime || "", precision: meta.precision || "",
    source: meta.source || "", simulated: !!meta.simulated, uploaded: !!meta.uploaded, count: idx.length,
    limit: typeof meta.power_limit_w === "number" && meta.power_limit_w > 0 ? meta.power_limit_w : NaN,
    flag: {}, // model index -> why its reading fails a consistency check (joulebench.analysis.consistency)
    curves: {} // model index -> its batch curve {bs, e, tp, pw, ci} (own measurements only)
  };
  // per model (NaN where not measured), decoded on first use: energy, throughput, latency, batch and the
  // relative 95 % confidence interval of the energy reading
  ["e", "tp", "lat", "bs", "ci"].forEach(function (c) { lazy(s, c, function () { return column(cols[c], idx); }); });
  (meta.flag || []).forEach(function (f) { s.flag[f[0]] = String(f[1]); });
  var cv = meta.curves;
  if (cv) cv.m.forEach(function (i, k) { s.curves[i] = { bs: cv.bs[k], e: cv.e[k], tp: cv.tp[k], pw: cv.pw[k], ci: cv.ci[k] }; });
  dataset.setups.push(s);
  dataset.setupById[s.id] = s;
  dataset.version = (dataset.version || 0) + 1; // drawn layers cached on the data know it changed
  return s;
}
// Decodes every column of a setup now (reading a lazy column decodes it); returns their total length.
function decodeSetup(s) {
  return ["e", "tp", "lat", "bs", "ci"].reduce(function (n, c) { return n + s[c].length; }, 0);
}
// One column of a setup as a dense array over all models: vals[k] belongs to model idx[k]; null or absent is NaN.
function column(vals, idx) {
  var a = new Float64Array(dataset.n).fill(NaN);
  if (!vals) return a;
  for (var k = 0; k < idx.length; k++) {
    var v = vals[k];
    if (v !== null && v !== undefined) a[idx[k]] = v;
  }
  return a;
}
function resizeAll(n) {
  dataset.testsets.forEach(function (t) { dataset.acc[t] = grow(dataset.acc[t], n); });
  dataset.setups.forEach(function (s) {
    s.e = grow(s.e, n); s.tp = grow(s.tp, n); s.lat = grow(s.lat, n); s.bs = grow(s.bs, n); s.ci = grow(s.ci, n);
  });
  dataset.n = n;
}

function gpuRank(gpu) {
  var g = String(gpu).toUpperCase();
  for (var i = 0; i < GPU_ORDER.length; i++) if (g.indexOf(GPU_ORDER[i]) === 0) return i;
  return GPU_ORDER.length;
}
function runtimeRank(rt) {
  var i = RUNTIME_ORDER.indexOf(rt);
  return i < 0 ? RUNTIME_ORDER.length - 2 : i; // unknown runtimes rank just above plain torch-fp32
}
/* The most recent GPU with the most optimised runtime, among real (not simulated) setups: a new GPU
 * (joulebench's own H200 runs) is shown first as soon as it has a handful of models to compare. */
var MIN_DEFAULT_MODELS = 5;
function defaultSetup() {
  var real = dataset.setups.filter(function (s) { return !s.simulated && !s.uploaded; });
  if (!real.length) real = dataset.setups.slice();
  if (!real.length) return "";
  var most = Math.max.apply(null, real.map(function (s) { return s.count; }));
  var enough = real.filter(function (s) { return s.count >= Math.min(MIN_DEFAULT_MODELS, most); });
  enough.sort(function (a, b) {
    return gpuRank(a.gpu) - gpuRank(b.gpu) || runtimeRank(a.runtime) - runtimeRank(b.runtime) || b.count - a.count;
  });
  return enough[0].id;
}
function defaultCompare(b) {
  var sb = dataset.setupById[b];
  if (!sb) return ["", ""];
  var same = dataset.setups.filter(function (s) { return s.id !== b && s.gpu === sb.gpu && s.runtime === "torch-fp32" && !s.simulated; });
  if (same.length) return [same[0].id, b];
  var other = dataset.setups.filter(function (s) { return s.id !== b; });
  return [other.length ? other[0].id : b, b];
}
