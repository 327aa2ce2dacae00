/* joulebench explorer. Plain JS, no dependencies. Data comes from data.js (window.JB_DATA, SI units).
 * Security rule: data never reaches innerHTML; every text from data goes through textContent or canvas fillText. */
(function () {
  "use strict";

  var MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
  var MAX_UPLOAD_ROWS = 50000;
  var MAX_NAME_LEN = 200;
  var PAGE_SIZE = 50;
  var TYPE_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C6D31", "#7F7F7F"];
  var GPU_ORDER = ["B300", "GB300", "B200", "GB200", "H200", "GH200", "H100", "L40S", "L40", "A100", "L4", "A10", "V100", "T4"];
  var RUNTIME_ORDER = ["compile-fp16", "tensorrt-fp16", "compile-bf16", "torch-fp16", "torch-bf16", "onnxruntime", "torch-fp32", "cpu-fp32"];
  // Example inputs only (not measurements); the user is asked to enter their own.
  var EXAMPLE_INTENSITY = 400;
  var EXAMPLE_PRICE = 0.2;

  var jb = (window.__jb = { ready: false, errors: [], timings: { changes: [], parts: {} } });
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "\u2013";
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
    return NUMBER_FORMAT.format(Number(v.toPrecision(digits || 3)));
  }
  // one cached formatter: toLocaleString() builds a new one per call, which cost ~0.3 ms a table cell
  var NUMBER_FORMAT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });
  function setMsg(text, kind) {
    var m = $("msg");
    m.textContent = text || "";
    m.className = "msg" + (kind ? " " + kind : "");
  }

  /* ------------------------------------------------------------------ data */
  var D; // working data: models (arrays), acc (Float64Array per test set), setups (dense arrays)

  function prepare(raw) {
    var m = raw.models;
    var n = m.name.length;
    D = {
      n: n,
      name: m.name.slice(), img: m.img.slice(), type: m.type.slice(), family: m.family.slice(),
      year: m.year.slice(), params: m.params.slice(), macs: m.macs.slice(), url: m.url.slice(),
      types: raw.types.slice(), families: raw.families.slice(), testsets: raw.testsets.slice(),
      acc: {}, setups: [], setupById: {}, keyIndex: {}, nameIndex: {}
    };
    raw.testsets.forEach(function (t) { D.acc[t] = denseFrom(raw.acc[t], n); });
    for (var i = 0; i < n; i++) indexModel(i);
    raw.setups.forEach(function (s) { addSetup(s, s.m, s); });
  }
  function denseFrom(list, n) {
    var a = new Float64Array(n).fill(NaN);
    for (var i = 0; i < list.length && i < n; i++) if (list[i] !== null) a[i] = list[i];
    return a;
  }
  function indexModel(i) {
    D.keyIndex[D.name[i] + "@" + D.img[i]] = i;
    if (!(D.name[i] in D.nameIndex)) D.nameIndex[D.name[i]] = i;
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
      e: new Float64Array(D.n).fill(NaN), tp: new Float64Array(D.n).fill(NaN),
      lat: new Float64Array(D.n).fill(NaN), bs: new Float64Array(D.n).fill(NaN),
      flag: {} // model index -> why its reading fails a consistency check (joulebench.analysis.consistency)
    };
    (meta.flag || []).forEach(function (f) { s.flag[f[0]] = String(f[1]); });
    for (var k = 0; k < idx.length; k++) {
      var i = idx[k];
      s.e[i] = cols.e[k] === null ? NaN : cols.e[k];
      s.tp[i] = cols.tp[k] === null || cols.tp[k] === undefined ? NaN : cols.tp[k];
      s.lat[i] = cols.lat[k] === null || cols.lat[k] === undefined ? NaN : cols.lat[k];
      s.bs[i] = cols.bs[k] === null || cols.bs[k] === undefined ? NaN : cols.bs[k];
    }
    D.setups.push(s);
    D.setupById[s.id] = s;
    return s;
  }
  function resizeAll(n) {
    D.testsets.forEach(function (t) { D.acc[t] = grow(D.acc[t], n); });
    D.setups.forEach(function (s) {
      s.e = grow(s.e, n); s.tp = grow(s.tp, n); s.lat = grow(s.lat, n); s.bs = grow(s.bs, n);
    });
    D.n = n;
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
    var real = D.setups.filter(function (s) { return !s.simulated && !s.uploaded; });
    if (!real.length) real = D.setups.slice();
    if (!real.length) return "";
    var most = Math.max.apply(null, real.map(function (s) { return s.count; }));
    var enough = real.filter(function (s) { return s.count >= Math.min(MIN_DEFAULT_MODELS, most); });
    enough.sort(function (a, b) {
      return gpuRank(a.gpu) - gpuRank(b.gpu) || runtimeRank(a.runtime) - runtimeRank(b.runtime) || b.count - a.count;
    });
    return enough[0].id;
  }
  function defaultCompare(b) {
    var sb = D.setupById[b];
    if (!sb) return ["", ""];
    var same = D.setups.filter(function (s) { return s.id !== b && s.gpu === sb.gpu && s.runtime === "torch-fp32" && !s.simulated; });
    if (same.length) return [same[0].id, b];
    var other = D.setups.filter(function (s) { return s.id !== b; });
    return [other.length ? other[0].id : b, b];
  }

  /* ----------------------------------------------------------------- state */
  var S;
  function defaults() {
    var setup = defaultSetup();
    var cmp = defaultCompare(setup);
    return {
      view: "explorer", setup: setup, overlay: "", ts: D.testsets.indexOf("imagenet") >= 0 ? ["imagenet"] : D.testsets.slice(0, 1),
      score: "manhattan", w: 0.5, amin: null, emax: null, axis: "log", top: 10,
      types: D.types.slice(), fams: [], q: "", ci: EXAMPLE_INTENSITY, price: EXAMPLE_PRICE,
      ca: cmp[0], cb: cmp[1], sort: "score", dir: -1, csort: "factor", cdir: -1
    };
  }
  function numOrNull(v) {
    if (v === null || v === undefined || String(v).trim() === "") return null;
    var x = Number(v);
    return isFinite(x) ? x : null;
  }
  function encodeState() {
    var p = new URLSearchParams();
    p.set("v", S.view); p.set("setup", S.setup);
    if (S.overlay) p.set("overlay", S.overlay);
    p.set("ts", S.ts.join(",")); p.set("score", S.score); p.set("w", String(S.w));
    if (S.amin !== null) p.set("amin", String(S.amin));
    if (S.emax !== null) p.set("emax", String(S.emax));
    p.set("axis", S.axis); p.set("top", String(S.top));
    if (S.types.length !== D.types.length) p.set("types", S.types.join(","));
    if (S.fams.length) p.set("fam", S.fams.join(","));
    if (S.q) p.set("q", S.q);
    p.set("ci", String(S.ci)); p.set("price", String(S.price));
    p.set("ca", S.ca); p.set("cb", S.cb);
    p.set("sort", S.sort); p.set("dir", String(S.dir)); p.set("csort", S.csort); p.set("cdir", String(S.cdir));
    return "#" + p.toString();
  }
  function decodeState(hash) {
    var s = defaults();
    var p = new URLSearchParams(String(hash || "").replace(/^#/, ""));
    var notes = [];
    function pick(key, allowed) { var v = p.get(key); return v !== null && allowed.indexOf(v) >= 0 ? v : null; }
    var v;
    if ((v = pick("v", ["explorer", "compare"]))) s.view = v;
    var ids = D.setups.map(function (x) { return x.id; });
    if (p.has("setup")) { if ((v = pick("setup", ids))) s.setup = v; else notes.push("setup '" + p.get("setup") + "' is not in this data"); }
    if ((v = pick("overlay", ids))) s.overlay = v;
    if (p.has("ts")) {
      var ts = p.get("ts").split(",").filter(function (t) { return D.testsets.indexOf(t) >= 0; });
      if (ts.length) s.ts = ts;
    }
    if ((v = pick("score", ["manhattan", "apj"]))) s.score = v;
    var w = numOrNull(p.get("w")); if (w !== null && w >= 0 && w <= 1) s.w = w;
    s.amin = p.has("amin") ? numOrNull(p.get("amin")) : null;
    s.emax = p.has("emax") ? numOrNull(p.get("emax")) : null;
    if ((v = pick("axis", ["log", "linear"]))) s.axis = v;
    var top = numOrNull(p.get("top")); if (top !== null && top >= 1) s.top = Math.min(50, Math.round(top));
    if (p.has("types")) s.types = p.get("types").split(",").filter(function (t) { return D.types.indexOf(t) >= 0; });
    if (p.has("fam")) s.fams = p.get("fam").split(",").filter(function (f) { return D.families.indexOf(f) >= 0; });
    if (p.has("q")) s.q = p.get("q").slice(0, 200);
    var ci = numOrNull(p.get("ci")); if (ci !== null && ci >= 0) s.ci = ci;
    var pr = numOrNull(p.get("price")); if (pr !== null && pr >= 0) s.price = pr;
    if ((v = pick("ca", ids))) s.ca = v;
    if ((v = pick("cb", ids))) s.cb = v;
    if ((v = pick("sort", TABLE_COLS.map(function (c) { return c.key; })))) s.sort = v;
    if ((v = pick("dir", ["1", "-1"]))) s.dir = Number(v);
    if ((v = pick("csort", CMP_COLS.map(function (c) { return c.key; })))) s.csort = v;
    if ((v = pick("cdir", ["1", "-1"]))) s.cdir = Number(v);
    if (notes.length) setMsg("Link restored with changes: " + notes.join("; ") + ".", "error");
    return s;
  }
  /* The URL follows the controls a moment later: Chrome throttles rapid replaceState calls (a dragged
   * slider fires dozens), and the link only matters once the view settles. */
  var urlTimer = null;
  function flushUrl() {
    if (urlTimer !== null) { clearTimeout(urlTimer); urlTimer = null; }
    jb.urlPending = false;
    var h = encodeState();
    if (location.hash !== h) history.replaceState(null, "", h);
  }
  function writeUrl() {
    jb.urlPending = true;
    if (urlTimer !== null) clearTimeout(urlTimer);
    urlTimer = setTimeout(flushUrl, 120);
  }
  window.addEventListener("pagehide", flushUrl);

  /* -------------------------------------------------------------- controls */
  function fillSelect(sel, options, value) {
    clear(sel);
    options.forEach(function (o) {
      var opt = el("option", null, o.label);
      opt.value = o.value;
      sel.appendChild(opt);
    });
    sel.value = value;
  }
  // One checkbox per value, after the box's legend (its first child); decorate(label, k) adds to a label
  // between its checkbox and its text.
  function fillChecks(box, values, idPrefix, group, decorate) {
    while (box.children.length > 1) box.removeChild(box.lastChild);
    var wrap = el("div", "checks");
    values.forEach(function (v, k) {
      var lab = el("label");
      lab.htmlFor = idPrefix + k;
      var cb = el("input");
      cb.type = "checkbox"; cb.id = idPrefix + k; cb.value = v; cb.dataset.group = group;
      lab.appendChild(cb);
      if (decorate) decorate(lab, k);
      lab.appendChild(document.createTextNode(v));
      wrap.appendChild(lab);
    });
    box.appendChild(wrap);
  }
  function setupLabel(s) {
    var tags = [];
    if (s.uploaded) tags.push("uploaded");
    if (s.simulated) tags.push("SIMULATED");
    if (s.source === "joulebench" && !s.uploaded) tags.push("own");
    return s.id + " \u2013 " + s.count + " models" + (tags.length ? " (" + tags.join(", ") + ")" : "");
  }
  function buildControls() {
    var setupOpts = D.setups.map(function (s) { return { value: s.id, label: setupLabel(s) }; });
    fillSelect($("setup"), setupOpts, S.setup);
    fillSelect($("overlay"), [{ value: "", label: "(none)" }].concat(setupOpts), S.overlay);
    fillSelect($("cmp-a"), setupOpts, S.ca);
    fillSelect($("cmp-b"), setupOpts, S.cb);

    fillChecks($("testsets"), D.testsets, "ts-", "ts");
    fillChecks($("types"), D.types, "type-", "types", function (lab, k) {
      var sw = el("span", "swatch");
      sw.style.background = TYPE_COLORS[k % TYPE_COLORS.length];
      lab.appendChild(sw);
    });

    var counts = {};
    for (var i = 0; i < D.n; i++) counts[D.family[i]] = (counts[D.family[i]] || 0) + 1;
    fillSelect($("families"), D.families.map(function (f, k) { return { value: f, label: f + " (" + (counts[k] || 0) + ")" }; }), null);
  }
  function syncControls() {
    $("setup").value = S.setup;
    $("overlay").value = S.overlay;
    document.querySelectorAll("input[data-group=ts]").forEach(function (c) { c.checked = S.ts.indexOf(c.value) >= 0; });
    $("score").value = S.score;
    $("weight").value = String(S.w);
    $("weight-out").textContent = S.w.toFixed(2);
    $("weight-ctl").hidden = S.score !== "manhattan";
    $("amin").value = S.amin === null ? "" : String(S.amin);
    $("emax").value = S.emax === null ? "" : String(S.emax);
    $("axis").value = S.axis;
    $("topn").value = String(S.top);
    document.querySelectorAll("input[data-group=types]").forEach(function (c) { c.checked = S.types.indexOf(c.value) >= 0; });
    Array.prototype.forEach.call($("families").options, function (o) { o.selected = S.fams.indexOf(o.value) >= 0; });
    $("search").value = S.q;
    $("intensity").value = String(S.ci);
    $("price").value = String(S.price);
    $("cmp-a").value = S.ca;
    $("cmp-b").value = S.cb;
    $("tab-explorer").setAttribute("aria-selected", String(S.view === "explorer"));
    $("tab-compare").setAttribute("aria-selected", String(S.view === "compare"));
    $("view-explorer").hidden = S.view !== "explorer";
    $("view-compare").hidden = S.view !== "compare";
  }
  function readControls() {
    S.setup = $("setup").value;
    S.overlay = $("overlay").value;
    var ts = [];
    document.querySelectorAll("input[data-group=ts]").forEach(function (c) { if (c.checked) ts.push(c.value); });
    S.ts = ts;
    S.score = $("score").value;
    S.w = Number($("weight").value);
    $("weight-out").textContent = S.w.toFixed(2);
    $("weight-ctl").hidden = S.score !== "manhattan";
    S.amin = numOrNull($("amin").value);
    S.emax = numOrNull($("emax").value);
    S.axis = $("axis").value;
    var top = numOrNull($("topn").value);
    S.top = top === null ? 10 : Math.max(1, Math.min(50, Math.round(top)));
    var types = [];
    document.querySelectorAll("input[data-group=types]").forEach(function (c) { if (c.checked) types.push(c.value); });
    S.types = types;
    S.fams = Array.prototype.filter.call($("families").options, function (o) { return o.selected; }).map(function (o) { return o.value; });
    S.q = $("search").value.slice(0, 200);
    var ci = numOrNull($("intensity").value); S.ci = ci === null || ci < 0 ? 0 : ci;
    var pr = numOrNull($("price").value); S.price = pr === null || pr < 0 ? 0 : pr;
    S.ca = $("cmp-a").value;
    S.cb = $("cmp-b").value;
  }

  /* --------------------------------------------------------------- compute */
  var R = null; // current explorer result
  var C = null; // current compare result

  function accuracyOf(i, ts) {
    var sum = 0;
    for (var k = 0; k < ts.length; k++) {
      var a = D.acc[ts[k]][i];
      if (a !== a) return NaN; // a model must have every chosen test set, else averages are not comparable
      sum += a;
    }
    return ts.length ? sum / ts.length : NaN;
  }
  function visibleMask() {
    var typeOk = D.types.map(function (t) { return S.types.indexOf(t) >= 0; });
    var famOk = null;
    if (S.fams.length) famOk = D.families.map(function (f) { return S.fams.indexOf(f) >= 0; });
    var mask = new Uint8Array(D.n);
    for (var i = 0; i < D.n; i++) mask[i] = typeOk[D.type[i]] && (!famOk || famOk[D.family[i]]) ? 1 : 0;
    return mask;
  }
  function matcher() {
    var q = S.q.trim().toLowerCase();
    if (!q) return null;
    return function (i) {
      return D.name[i].toLowerCase().indexOf(q) >= 0 || String(D.families[D.family[i]]).toLowerCase().indexOf(q) >= 0;
    };
  }
  function scoreFn(N) {
    if (S.score === "apj") {
      var a0 = S.amin === null ? 0 : S.amin;
      return function (eJ, a) { return (a - a0) / (eJ * 1e3); };
    }
    var W = S.w;
    return function (eJ, a) { return 100 - (W * 100 * eJ / N + (1 - W) * (100 - a)); };
  }
  function compute() {
    var s = D.setupById[S.setup];
    var mask = visibleMask();
    var match = matcher();
    var pts = [], missingAcc = 0;
    if (s) {
      for (var i = 0; i < D.n; i++) {
        if (!mask[i]) continue;
        var e = s.e[i];
        if (e !== e) continue;
        var a = accuracyOf(i, S.ts);
        if (a !== a) { missingAcc++; continue; }
        var eligible = (S.amin === null || a >= S.amin) && (S.emax === null || e * 1e3 <= S.emax);
        pts.push({ i: i, e: e, a: a, ok: eligible, hit: match ? match(i) : false, score: NaN });
      }
    }
    var elig = pts.filter(function (p) { return p.ok; });
    var N = 0;
    elig.forEach(function (p) { if (p.e > N) N = p.e; });
    var f = scoreFn(N);
    elig.forEach(function (p) { p.score = f(p.e, p.a); });
    var ranking = elig.slice().sort(function (x, y) { return y.score - x.score || x.e - y.e; }).slice(0, S.top);
    var byE = elig.slice().sort(function (x, y) { return x.e - y.e || y.a - x.a; });
    var frontier = [], best = -Infinity;
    byE.forEach(function (p) { if (p.a > best) { frontier.push(p); best = p.a; } });
    var over = [];
    var so = S.overlay && S.overlay !== S.setup ? D.setupById[S.overlay] : null;
    if (so) {
      for (var j = 0; j < D.n; j++) {
        if (!mask[j] || so.e[j] !== so.e[j]) continue;
        var aj = accuracyOf(j, S.ts);
        if (aj === aj) over.push({ i: j, e: so.e[j], a: aj, ok: false, hit: match ? match(j) : false, score: NaN, overlay: true });
      }
    }
    R = { setup: s, overlay: so, pts: pts, elig: elig, N: N, f: f, ranking: ranking, frontier: frontier, over: over, missingAcc: missingAcc };
  }

  /* -------------------------------------------------------------- plotting */
  function Plot(canvas) {
    this.c = canvas;
    this.ctx = canvas.getContext("2d");
    this.m = { l: 58, r: 14, t: 12, b: 40 };
  }
  Plot.prototype.size = function () {
    var r = this.c.parentNode.getBoundingClientRect();
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(200, Math.floor(r.width)), h = Math.max(160, Math.floor(r.height));
    if (this.c.width !== w * dpr || this.c.height !== h * dpr) { this.c.width = w * dpr; this.c.height = h * dpr; }
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.w = w; this.h = h;
    this.pw = w - this.m.l - this.m.r; this.ph = h - this.m.t - this.m.b;
  };
  function Scale(lo, hi, a, b, log) {
    this.log = log;
    var f = log ? Math.log10 : function (x) { return x; };
    this.lo = lo; this.hi = hi;
    this.f = f; this.flo = f(lo); this.fhi = f(hi); this.a = a; this.b = b;
  }
  Scale.prototype.px = function (v) { return this.a + (this.f(v) - this.flo) / (this.fhi - this.flo) * (this.b - this.a); };
  Scale.prototype.inv = function (p) {
    var t = this.flo + (p - this.a) / (this.b - this.a) * (this.fhi - this.flo);
    return this.log ? Math.pow(10, t) : t;
  };
  Scale.prototype.ticks = function () {
    var out = [];
    if (this.log) {
      var k0 = Math.floor(this.flo), k1 = Math.ceil(this.fhi);
      var mult = k1 - k0 <= 1 ? [1, 2, 3, 5, 7] : k1 - k0 <= 4 ? [1, 2, 5] : [1];
      for (var k = k0; k <= k1; k++) {
        mult.forEach(function (m) { out.push(m * Math.pow(10, k)); });
      }
      var lo = this.lo, hi = this.hi;
      return out.filter(function (v) { return v >= lo * 0.999 && v <= hi * 1.001; });
    }
    var span = this.hi - this.lo, step = Math.pow(10, Math.floor(Math.log10(span / 6)));
    if (span / step > 30) step *= 5; else if (span / step > 12) step *= 2;
    for (var v = Math.ceil(this.lo / step) * step; v <= this.hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(10)));
    return out;
  };
  function extent(vals, log, padFrac) {
    var lo = Infinity, hi = -Infinity;
    vals.forEach(function (v) { if (isFinite(v) && (!log || v > 0)) { if (v < lo) lo = v; if (v > hi) hi = v; } });
    if (!isFinite(lo)) return log ? [0.1, 10] : [0, 1];
    if (log) {
      if (hi / lo < 1.5) { lo /= 1.3; hi *= 1.3; }
      var f = Math.pow(hi / lo, padFrac);
      return [lo / f, hi * f];
    }
    if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
    var p = (hi - lo) * padFrac;
    return [lo - p, hi + p];
  }
  function tickLabel(v) {
    if (v >= 1e6 || v < 0.01) return v.toExponential(0);
    if (v >= 1000) return NUMBER_FORMAT.format(v);
    return String(Number(v.toPrecision(3)));
  }
  Plot.prototype.axes = function (xs, ys, xlabel, ylabel) {
    var ctx = this.ctx, m = this.m;
    ctx.strokeStyle = "#e3e6ea"; ctx.fillStyle = "#4a545e"; ctx.lineWidth = 1;
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    xs.ticks().forEach(function (v) {
      var x = Math.round(xs.px(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, m.t); ctx.lineTo(x, m.t + this.ph); ctx.stroke();
      ctx.fillText(tickLabel(v), x, m.t + this.ph + 4);
    }, this);
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    ys.ticks().forEach(function (v) {
      var y = Math.round(ys.px(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(m.l, y); ctx.lineTo(m.l + this.pw, y); ctx.stroke();
      ctx.fillText(tickLabel(v), m.l - 4, y);
    }, this);
    ctx.strokeStyle = "#8a949e";
    ctx.strokeRect(m.l + 0.5, m.t + 0.5, this.pw, this.ph);
    ctx.fillStyle = "#1d2329"; ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    ctx.fillText(xlabel, m.l + this.pw / 2, this.h - 2);
    ctx.save(); ctx.translate(12, m.t + this.ph / 2); ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle"; ctx.fillText(ylabel, 0, 0); ctx.restore();
  };
  Plot.prototype.clip = function () {
    this.ctx.save();
    this.ctx.beginPath(); this.ctx.rect(this.m.l, this.m.t, this.pw, this.ph); this.ctx.clip();
  };

  var scatter, cmpPlot, hit = { explorer: null, compare: null };

  /* Filled contours of the score: the plot area is sampled every 3 px into bands of equal score steps
   * (darker = better), drawn from a small offscreen image so it costs about a millisecond. */
  var bandCanvas = document.createElement("canvas");
  function drawBands(p, xs, ys) {
    if (!R.elig.length) return;
    var step = 3, bw = Math.ceil(p.pw / step), bh = Math.ceil(p.ph / step);
    var lo = Infinity, hi = -Infinity;
    R.elig.forEach(function (q) { if (q.score < lo) lo = q.score; if (q.score > hi) hi = q.score; });
    if (!(hi > lo)) return;
    var levels = 8, width = (hi - lo) / levels;
    bandCanvas.width = bw; bandCanvas.height = bh;
    var bctx = bandCanvas.getContext("2d");
    var img = bctx.createImageData(bw, bh), d = img.data;
    var ex = new Float64Array(bw);
    for (var x = 0; x < bw; x++) ex[x] = xs.inv(p.m.l + (x + 0.5) * step) / 1e3;
    for (var y = 0; y < bh; y++) {
      var a = ys.inv(p.m.t + (y + 0.5) * step);
      for (var x2 = 0; x2 < bw; x2++) {
        var sc = R.f(ex[x2], a);
        var lv = Math.floor((sc - lo) / width);
        if (lv < 0) lv = -1;
        if (lv >= levels) lv = levels - 1;
        var o = (y * bw + x2) * 4;
        d[o] = 11; d[o + 1] = 92; d[o + 2] = 173;
        d[o + 3] = lv < 0 ? 0 : 8 + lv * 7;
      }
    }
    bctx.putImageData(img, 0, 0);
    p.ctx.imageSmoothingEnabled = false;
    p.ctx.drawImage(bandCanvas, 0, 0, bw, bh, p.m.l, p.m.t, bw * step, bh * step);
  }

  function typeColor(i) { return TYPE_COLORS[D.type[i] % TYPE_COLORS.length]; }

  function drawScatter() {
    var p = scatter;
    p.size();
    var ctx = p.ctx;
    ctx.clearRect(0, 0, p.w, p.h);
    var all = R.pts.concat(R.over);
    var log = S.axis === "log";
    var xe = extent(all.map(function (q) { return q.e * 1e3; }), log, log ? 0.04 : 0.03);
    if (!log) xe[0] = Math.max(0, xe[0]);
    var ye = extent(all.map(function (q) { return q.a; }), false, 0.04);
    var xs = new Scale(xe[0], xe[1], p.m.l, p.m.l + p.pw, log);
    var ys = new Scale(ye[0], ye[1], p.m.t + p.ph, p.m.t, false);
    p.clip();
    drawBands(p, xs, ys);
    ctx.restore();
    p.axes(xs, ys, "Energy per image (mJ, " + S.axis + ")", "Top-1 accuracy (%), " + S.ts.join(" + "));
    p.clip();
    // threshold lines
    ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5; ctx.strokeStyle = "#b00020"; ctx.fillStyle = "#b00020";
    ctx.font = "11px system-ui, sans-serif";
    if (S.amin !== null) {
      var ya = ys.px(S.amin);
      ctx.beginPath(); ctx.moveTo(p.m.l, ya); ctx.lineTo(p.m.l + p.pw, ya); ctx.stroke();
      ctx.textAlign = "left"; ctx.textBaseline = "bottom"; ctx.fillText("min accuracy " + S.amin + "%", p.m.l + 4, ya - 2);
    }
    if (S.emax !== null && S.emax > 0) {
      var xm = xs.px(S.emax);
      ctx.beginPath(); ctx.moveTo(xm, p.m.t); ctx.lineTo(xm, p.m.t + p.ph); ctx.stroke();
      ctx.textAlign = "right"; ctx.textBaseline = "top"; ctx.fillText("max energy " + S.emax + " mJ", xm - 3, p.m.t + 3);
    }
    ctx.setLineDash([]);
    var n = all.length, hx = new Float32Array(n), hy = new Float32Array(n);
    // faded: outside the thresholds
    ctx.fillStyle = "rgba(120,128,136,0.35)";
    R.pts.forEach(function (q, k) {
      hx[k] = xs.px(q.e * 1e3); hy[k] = ys.px(q.a);
      if (!q.ok) { ctx.beginPath(); ctx.arc(hx[k], hy[k], 2.2, 0, 6.2832); ctx.fill(); }
    });
    // coloured by type, one path per type
    D.types.forEach(function (t, ti) {
      ctx.fillStyle = TYPE_COLORS[ti % TYPE_COLORS.length];
      ctx.globalAlpha = 0.75;
      ctx.beginPath();
      R.pts.forEach(function (q, k) {
        if (q.ok && D.type[q.i] === ti) { ctx.moveTo(hx[k] + 3, hy[k]); ctx.arc(hx[k], hy[k], 3, 0, 6.2832); }
      });
      ctx.fill();
    });
    ctx.globalAlpha = 1;
    // overlay setup: hollow diamonds
    var base = R.pts.length;
    R.over.forEach(function (q, k) {
      var x = xs.px(q.e * 1e3), y = ys.px(q.a);
      hx[base + k] = x; hy[base + k] = y;
      ctx.strokeStyle = typeColor(q.i); ctx.lineWidth = 1.6;
      ctx.beginPath(); ctx.moveTo(x, y - 5); ctx.lineTo(x + 5, y); ctx.lineTo(x, y + 5); ctx.lineTo(x - 5, y); ctx.closePath(); ctx.stroke();
    });
    // Pareto frontier
    if (R.frontier.length > 1) {
      ctx.strokeStyle = "#1d2329"; ctx.lineWidth = 1.5;
      ctx.beginPath();
      R.frontier.forEach(function (q, k) {
        var x = xs.px(q.e * 1e3), y = ys.px(q.a);
        if (k === 0) ctx.moveTo(x, y); else { ctx.lineTo(x, ys.px(R.frontier[k - 1].a)); ctx.lineTo(x, y); }
      });
      ctx.stroke();
    }
    // readings that fail a consistency check: orange square
    ctx.strokeStyle = "#d97706"; ctx.lineWidth = 1.4;
    R.pts.forEach(function (q, k) {
      if (R.setup.flag[q.i]) ctx.strokeRect(hx[k] - 4.5, hy[k] - 4.5, 9, 9);
    });
    // top-ranked: ring
    ctx.strokeStyle = "#1d2329"; ctx.lineWidth = 1.2;
    R.ranking.forEach(function (q) {
      ctx.beginPath(); ctx.arc(xs.px(q.e * 1e3), ys.px(q.a), 5.5, 0, 6.2832); ctx.stroke();
    });
    // search hits: thick ring and label
    var hits = all.filter(function (q) { return q.hit; });
    ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "bottom";
    hits.forEach(function (q, k) {
      var x = xs.px(q.e * 1e3), y = ys.px(q.a);
      ctx.strokeStyle = "#e00000"; ctx.lineWidth = 2.2;
      ctx.beginPath(); ctx.arc(x, y, 7, 0, 6.2832); ctx.stroke();
      if (hits.length <= 8) { // beyond a few, labels only hide each other
        ctx.fillStyle = "rgba(255,255,255,0.85)";
        var label = D.name[q.i].slice(0, 48);
        var tw = ctx.measureText(label).width;
        ctx.fillRect(x + 7, y - 18, tw + 4, 14);
        ctx.fillStyle = "#7a0000"; ctx.fillText(label, x + 9, y - 5);
      }
    });
    ctx.restore();
    hit.explorer = { x: hx, y: hy, pts: all, xs: xs, ys: ys };
    drawLegend();
  }

  function drawLegend() {
    var lg = $("legend");
    clear(lg);
    D.types.forEach(function (t, ti) {
      var sp = el("span");
      var sw = el("span", "swatch"); sw.style.background = TYPE_COLORS[ti % TYPE_COLORS.length];
      sp.appendChild(sw); sp.appendChild(document.createTextNode(t));
      lg.appendChild(sp);
    });
    var s = R.setup;
    var txt = (s ? s.id : "no setup") + ": " + R.elig.length + " ranked of " + R.pts.length + " shown";
    if (R.missingAcc) txt += ", " + R.missingAcc + " without accuracy on " + S.ts.join(" + ");
    if (R.over.length) txt += "; \u25C7 " + R.overlay.id + " (" + R.over.length + ")";
    if (s && s.simulated) txt += "; SIMULATED numbers";
    var flagged = R.pts.filter(function (q) { return s && s.flag[q.i]; }).length;
    if (flagged) txt += "; orange squares: " + flagged + " reading(s) failing a consistency check (hover for why)";
    txt += ". Line: Pareto frontier; shading: score (darker = better); rings: top " + S.top + ".";
    lg.appendChild(el("span", null, txt));
  }

  function drawBars() {
    var ol = $("bars");
    clear(ol);
    var max = 0;
    R.ranking.forEach(function (q) { if (q.score > max) max = q.score; });
    $("bars-title").textContent = "Top " + R.ranking.length + " by " + (S.score === "apj" ? "accuracy per mJ" : "weighted Manhattan (W=" + S.w.toFixed(2) + ")");
    R.ranking.forEach(function (q, k) {
      var why = suspectNote(R.setup, q.i);
      var li = el("li", (q.hit ? "hit" : "") + (why ? " suspect" : ""));
      li.appendChild(el("span", "rank", k + 1));
      var mid = el("div");
      var nm = el("div", "name", D.name[q.i] + " @" + D.img[q.i]);
      nm.title = D.name[q.i] + " \u2013 " + fmt(q.a, 4) + "%, " + fmt(q.e * 1e3, 3) + " mJ" + (why ? "\n" + why : "");
      mid.appendChild(nm);
      var bar = el("div", "bar");
      bar.style.width = (max > 0 ? Math.max(2, 100 * q.score / max) : 0) + "%";
      bar.style.background = typeColor(q.i);
      mid.appendChild(bar);
      li.appendChild(mid);
      li.appendChild(el("span", "val", fmt(q.score, 3)));
      ol.appendChild(li);
    });
    if (!R.ranking.length) ol.appendChild(el("li", null, "No model passes the filters and thresholds."));
  }

  /* ----------------------------------------------------------------- table */
  function perMillion(eJ) {
    var kwh = eJ * 1e6 / 3.6e6;
    return { kwh: kwh, co2: kwh * S.ci / 1000, cost: kwh * S.price };
  }
  // Why a reading is suspect, as shown beside it: one line for the explorer's setup, one per side in a comparison.
  function suspectNote(s, i) { return s && s.flag[i] ? "suspect reading: " + s.flag[i] : ""; }
  function suspectSides(i) {
    return [["A", C.a], ["B", C.b]].filter(function (x) { return x[1].flag[i]; })
      .map(function (x) { return "suspect " + x[0] + " reading: " + x[1].flag[i]; });
  }
  var TABLE_COLS = [
    { key: "model", label: "Model", txt: true, get: function (q) { return D.name[q.i]; },
      note: function (q) { return suspectNote(R.setup, q.i); } },
    { plain: true, key: "img", label: "Size", get: function (q) { return D.img[q.i]; } },
    { key: "type", label: "Type", txt: true, get: function (q) { return D.types[D.type[q.i]]; } },
    { key: "family", label: "Family", txt: true, get: function (q) { return D.families[D.family[q.i]]; } },
    { key: "acc", label: "Acc %", get: function (q) { return q.a; }, d: 4 },
    { key: "mj", label: "mJ/img", get: function (q) { return q.e * 1e3; }, d: 4 },
    { key: "tp", label: "img/s", get: function (q) { return R.setup.tp[q.i]; }, d: 4 },
    { key: "lat", label: "Latency ms", get: function (q) { return R.setup.lat[q.i] * 1e3; }, d: 3 },
    { plain: true, key: "bs", label: "Batch", get: function (q) { return R.setup.bs[q.i]; } },
    { key: "params", label: "Params M", get: function (q) { return D.params[q.i] === null ? NaN : D.params[q.i] / 1e6; }, d: 3 },
    { key: "gmacs", label: "GMACs", get: function (q) { return D.macs[q.i] === null ? NaN : D.macs[q.i] / 1e9; }, d: 3 },
    { plain: true, key: "year", label: "Year", get: function (q) { return D.year[q.i] === null ? NaN : D.year[q.i]; } },
    { key: "score", label: "Score", get: function (q) { return q.score; }, d: 4 },
    { key: "kwh", label: "kWh/M img", get: function (q) { return perMillion(q.e).kwh; }, d: 3 },
    { key: "co2", label: "kg CO2e/M", get: function (q) { return perMillion(q.e).co2; }, d: 3 },
    { key: "cost", label: "Cost/M", get: function (q) { return perMillion(q.e).cost; }, d: 3 }
  ];
  var CMP_COLS = [
    { key: "model", label: "Model", txt: true, get: function (q) { return D.name[q.i]; },
      note: function (q) { return suspectSides(q.i).join("\n"); } },
    { plain: true, key: "img", label: "Size", get: function (q) { return D.img[q.i]; } },
    { key: "type", label: "Type", txt: true, get: function (q) { return D.types[D.type[q.i]]; } },
    { key: "ea", label: "A mJ/img", get: function (q) { return q.ea * 1e3; }, d: 4 },
    { key: "eb", label: "B mJ/img", get: function (q) { return q.eb * 1e3; }, d: 4 },
    { key: "factor", label: "A/B", get: function (q) { return q.ea / q.eb; }, d: 3 },
    { key: "tpa", label: "A img/s", get: function (q) { return C.a.tp[q.i]; }, d: 4 },
    { key: "tpb", label: "B img/s", get: function (q) { return C.b.tp[q.i]; }, d: 4 },
    { key: "kwha", label: "A kWh/M", get: function (q) { return perMillion(q.ea).kwh; }, d: 3 },
    { key: "kwhb", label: "B kWh/M", get: function (q) { return perMillion(q.eb).kwh; }, d: 3 },
    { key: "saved", label: "kg CO2e saved/M", get: function (q) { return perMillion(q.ea).co2 - perMillion(q.eb).co2; }, d: 3 }
  ];
  var pages = { explorer: 0, compare: 0 };

  function sortRows(rows, cols, key, dir) {
    var col = cols.filter(function (c) { return c.key === key; })[0] || cols[0];
    var vals = rows.map(function (q) { return col.get(q); });
    var ord = rows.map(function (_, k) { return k; });
    ord.sort(function (x, y) {
      var a = vals[x], b = vals[y];
      if (col.txt) return dir * String(a).localeCompare(String(b));
      var an = a === null || a !== a, bn = b === null || b !== b;
      if (an || bn) return an === bn ? 0 : an ? 1 : -1; // missing values last either way
      return dir * (a - b);
    });
    return ord.map(function (k) { return rows[k]; });
  }
  function renderTable(tableId, cols, rows, sortKey, dir, which, onSort, rowClass) {
    var table = $(tableId), thead = table.tHead, tbody = table.tBodies[0];
    clear(thead);
    var tr = el("tr");
    cols.forEach(function (c) {
      var th = el("th", c.txt ? "txt" : null);
      th.scope = "col";
      if (c.key === sortKey) th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
      var b = el("button", null, c.label);
      b.type = "button"; b.dataset.key = c.key;
      b.addEventListener("click", function () { onSort(c.key); });
      th.appendChild(b);
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    var pageCount = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    if (pages[which] >= pageCount) pages[which] = pageCount - 1;
    var start = pages[which] * PAGE_SIZE;
    var frag = document.createDocumentFragment();
    rows.slice(start, start + PAGE_SIZE).forEach(function (q) {
      var r = el("tr", rowClass ? rowClass(q) : null);
      cols.forEach(function (c) {
        var v = c.get(q);
        var shown = c.txt ? v : c.plain ? (v === null || v !== v || !v ? "\u2013" : String(v)) : fmt(v, c.d || 6);
        var td = el("td", (c.txt ? "txt" : "") + (c.key === "model" ? " model" : ""), shown);
        var note = c.note ? c.note(q) : "";
        if (c.key === "model") td.title = String(v) + (note ? "\n" + note : "");
        if (note) r.className += " suspect";
        r.appendChild(td);
      });
      frag.appendChild(r);
    });
    clear(tbody);
    tbody.appendChild(frag);
    return { page: pages[which] + 1, pageCount: pageCount };
  }
  function drawTable() {
    var rows = R.pts.concat(R.over.length ? [] : []);
    var sorted = sortRows(rows, TABLE_COLS, S.sort, S.dir);
    R.tableRows = sorted;
    var sim = R.setup && R.setup.simulated;
    var pg = renderTable("table", TABLE_COLS, sorted, S.sort, S.dir, "explorer", function (key) {
      if (S.sort === key) S.dir = -S.dir; else { S.sort = key; S.dir = key === "model" || key === "type" || key === "family" ? 1 : -1; }
      changed("sort", renderExplorerTable);
    }, function (q) { return (q.hit ? "hit" : "") + (sim ? " sim" : ""); });
    $("table-count").textContent = rows.length + " models" + (R.setup ? " on " + R.setup.id : "");
    $("page-info").textContent = "page " + pg.page + " of " + pg.pageCount;
    $("prev-page").disabled = pg.page <= 1;
    $("next-page").disabled = pg.page >= pg.pageCount;
  }
  function renderExplorerTable() { drawTable(); }

  function csvCell(v) {
    var s = v === null || v === undefined || (typeof v === "number" && !isFinite(v)) ? "" : String(v);
    if (/^[=+\-@\t\r]/.test(s) && typeof v !== "number") s = "'" + s; // no formula injection in spreadsheets
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function download(name, cols, rows, extra) {
    var lines = [cols.map(function (c) { return c.key; }).concat(extra ? extra.head : []).join(",")];
    rows.forEach(function (q) {
      lines.push(cols.map(function (c) { return csvCell(c.get(q)); }).concat(extra ? extra.row(q).map(csvCell) : []).join(","));
    });
    var blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
    var a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  /* --------------------------------------------------------------- compare */
  function computeCompare() {
    var a = D.setupById[S.ca], b = D.setupById[S.cb];
    var mask = visibleMask(), match = matcher();
    var rows = [];
    if (a && b) {
      for (var i = 0; i < D.n; i++) {
        if (!mask[i] || a.e[i] !== a.e[i] || b.e[i] !== b.e[i]) continue;
        rows.push({ i: i, ea: a.e[i], eb: b.e[i], hit: match ? match(i) : false });
      }
    }
    var logs = rows.map(function (q) { return Math.log(q.ea / q.eb); }).sort(function (x, y) { return x - y; });
    var gm = logs.length ? Math.exp(logs.reduce(function (s, v) { return s + v; }, 0) / logs.length) : NaN;
    var med = logs.length ? Math.exp(logs.length % 2 ? logs[(logs.length - 1) / 2] : (logs[logs.length / 2 - 1] + logs[logs.length / 2]) / 2) : NaN;
    C = { a: a, b: b, rows: rows, gm: gm, median: med, min: logs.length ? Math.exp(logs[0]) : NaN, max: logs.length ? Math.exp(logs[logs.length - 1]) : NaN };
  }
  function drawCompare() {
    var p = cmpPlot;
    p.size();
    var ctx = p.ctx;
    ctx.clearRect(0, 0, p.w, p.h);
    var vals = [];
    C.rows.forEach(function (q) { vals.push(q.ea * 1e3, q.eb * 1e3); });
    var ex = extent(vals, true, 0.04);
    var xs = new Scale(ex[0], ex[1], p.m.l, p.m.l + p.pw, true);
    var ys = new Scale(ex[0], ex[1], p.m.t + p.ph, p.m.t, true);
    p.axes(xs, ys, "A: " + (C.a ? C.a.id : "?") + " (mJ/img)", "B: " + (C.b ? C.b.id : "?") + " (mJ/img)");
    p.clip();
    // reference lines: equal energy, and the geometric-mean reduction
    ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "bottom";
    var lines = [[1, "#8a949e", "A = B"]];
    if (isFinite(C.gm) && Math.abs(Math.log(C.gm)) > 0.01) lines.push([C.gm, "#b00020", "geometric mean A/B = " + fmt(C.gm, 3) + "\u00d7"]);
    lines.forEach(function (L) {
      ctx.strokeStyle = L[1]; ctx.fillStyle = L[1]; ctx.setLineDash(L[0] === 1 ? [] : [6, 4]); ctx.lineWidth = 1.3;
      ctx.beginPath(); ctx.moveTo(xs.px(ex[0]), ys.px(ex[0] / L[0])); ctx.lineTo(xs.px(ex[1]), ys.px(ex[1] / L[0])); ctx.stroke();
      // A = B at the lower left above its line; the mean line's label in the empty lower right, below it
      var lx = ex[0] * Math.pow(ex[1] / ex[0], L[0] === 1 ? 0.06 : 0.97);
      ctx.textAlign = L[0] === 1 ? "left" : "right";
      ctx.textBaseline = L[0] === 1 ? "bottom" : "top";
      ctx.fillText(L[2], xs.px(lx) + (L[0] === 1 ? 4 : 0), ys.px(lx / L[0]) + (L[0] === 1 ? -4 : 8));
    });
    ctx.setLineDash([]);
    var n = C.rows.length, hx = new Float32Array(n), hy = new Float32Array(n);
    ctx.globalAlpha = 0.75;
    C.rows.forEach(function (q, k) {
      hx[k] = xs.px(q.ea * 1e3); hy[k] = ys.px(q.eb * 1e3);
      ctx.fillStyle = typeColor(q.i);
      ctx.beginPath(); ctx.arc(hx[k], hy[k], 3, 0, 6.2832); ctx.fill();
    });
    ctx.globalAlpha = 1;
    C.rows.forEach(function (q, k) {
      if (!q.hit) return;
      ctx.strokeStyle = "#e00000"; ctx.lineWidth = 2.2;
      ctx.beginPath(); ctx.arc(hx[k], hy[k], 7, 0, 6.2832); ctx.stroke();
    });
    ctx.restore();
    hit.compare = { x: hx, y: hy, pts: C.rows, xs: xs, ys: ys };

    var sum = $("cmp-summary");
    clear(sum);
    if (!C.rows.length) {
      sum.textContent = "No model is measured in both setups (with the current type/family filters).";
    } else {
      sum.appendChild(document.createTextNode("A/B energy, geometric mean over " + C.rows.length + " models: "));
      sum.appendChild(el("strong", null, fmt(C.gm, 3) + "\u00d7"));
      sum.appendChild(document.createTextNode(" (median " + fmt(C.median, 3) + "\u00d7, range " + fmt(C.min, 3) + "\u2013" + fmt(C.max, 3) + "\u00d7)"));
    }
    var lg = $("cmp-legend");
    clear(lg);
    D.types.forEach(function (t, ti) {
      var sp = el("span");
      var sw = el("span", "swatch"); sw.style.background = TYPE_COLORS[ti % TYPE_COLORS.length];
      sp.appendChild(sw); sp.appendChild(document.createTextNode(t));
      lg.appendChild(sp);
    });
    var notes = [];
    if (C.a && C.a.simulated) notes.push("A is SIMULATED");
    if (C.b && C.b.simulated) notes.push("B is SIMULATED");
    lg.appendChild(el("span", null, "Below the grey line B uses less energy than A." + (notes.length ? " " + notes.join("; ") + "." : "")));
    drawHistogram();
    drawCmpTable();
  }
  /* Reduction factors binned on a log scale: how often B saves 1-1.5x, 1.5-2x, ... */
  function drawHistogram() {
    var ol = $("cmp-hist");
    clear(ol);
    var edges = [0, 0.5, 0.8, 1, 1.25, 1.5, 2, 3, 4, 6, 8, Infinity];
    var counts = edges.slice(1).map(function () { return 0; });
    C.rows.forEach(function (q) {
      var f = q.ea / q.eb;
      for (var k = 0; k < counts.length; k++) if (f >= edges[k] && f < edges[k + 1]) { counts[k]++; break; }
    });
    var max = Math.max.apply(null, counts.concat([1]));
    counts.forEach(function (c, k) {
      var label = edges[k + 1] === Infinity ? "\u2265" + edges[k] + "\u00d7" : edges[k] + "\u2013" + edges[k + 1] + "\u00d7";
      var li = el("li");
      li.appendChild(el("span", "rank", ""));
      var mid = el("div");
      mid.appendChild(el("div", "name", label));
      var bar = el("div", "bar");
      bar.style.width = (100 * c / max) + "%";
      bar.style.background = edges[k] >= 1 ? "#009E73" : "#D55E00";
      mid.appendChild(bar);
      li.appendChild(mid);
      li.appendChild(el("span", "val", c));
      ol.appendChild(li);
    });
  }
  function drawCmpTable() {
    var sorted = sortRows(C.rows, CMP_COLS, S.csort, S.cdir);
    C.tableRows = sorted;
    var pg = renderTable("cmp-table", CMP_COLS, sorted, S.csort, S.cdir, "compare", function (key) {
      if (S.csort === key) S.cdir = -S.cdir; else { S.csort = key; S.cdir = key === "model" || key === "type" ? 1 : -1; }
      changed("cmp-sort", drawCmpTable);
    }, function (q) { return q.hit ? "hit" : ""; });
    $("cmp-count").textContent = C.rows.length + " models";
    $("cmp-page-info").textContent = "page " + pg.page + " of " + pg.pageCount;
    $("cmp-prev").disabled = pg.page <= 1;
    $("cmp-next").disabled = pg.page >= pg.pageCount;
  }

  /* --------------------------------------------------------------- tooltip */
  function nearest(h, mx, my) {
    if (!h) return -1;
    var best = -1, bd = 64; // within 8 px
    for (var k = 0; k < h.x.length; k++) {
      var dx = h.x[k] - mx, dy = h.y[k] - my, d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = k; }
    }
    return best;
  }
  function tipRow(tip, k, v) {
    var r = el("div", "t-row");
    r.appendChild(el("span", null, k));
    r.appendChild(el("span", null, v));
    tip.appendChild(r);
  }
  function showTip(which, k, cx, cy) {
    var tip = $("tooltip");
    clear(tip);
    var q = hit[which].pts[k], i = q.i;
    tip.appendChild(el("div", "t-name", D.name[i]));
    tipRow(tip, "input size", D.img[i] ? D.img[i] + " px" : "\u2013");
    tipRow(tip, "type / family", D.types[D.type[i]] + " / " + D.families[D.family[i]]);
    if (which === "explorer") {
      var s = q.overlay ? R.overlay : R.setup;
      tipRow(tip, "setup", s.id);
      tipRow(tip, "accuracy", fmt(q.a, 4) + " % (" + S.ts.join(" + ") + ")");
      tipRow(tip, "energy", fmt(q.e * 1e3, 4) + " mJ/img");
      tipRow(tip, "throughput", fmt(s.tp[i], 4) + " img/s");
      // energy x throughput: the power the reading implies (joulebench.analysis.consistency.power_fractions)
      var pw = q.e * s.tp[i];
      if (isFinite(pw)) {
        var share = isFinite(s.limit)
          ? " (" + Math.round(100 * pw / s.limit) + " % of the " + fmt(s.limit, 3) + " W limit)" : "";
        tipRow(tip, "average power", fmt(pw, 3) + " W" + share);
      }
      tipRow(tip, "latency", fmt(s.lat[i] * 1e3, 3) + " ms");
      tipRow(tip, "batch", fmt(s.bs[i], 6));
      if (q.ok) tipRow(tip, "score", fmt(q.score, 4));
      var pm = perMillion(q.e);
      tipRow(tip, "per million images", fmt(pm.kwh, 3) + " kWh");
      tipRow(tip, "\u2026 at " + fmt(S.ci, 3) + " g/kWh", fmt(pm.co2, 3) + " kg CO2e");
      tipRow(tip, "\u2026 at " + fmt(S.price, 3) + " per kWh", fmt(pm.cost, 3));
      if (s.simulated) tip.appendChild(el("div", "t-note", "simulated numbers (meter sim)"));
      if (s.flag[i]) tip.appendChild(el("div", "t-warn", suspectNote(s, i)));
    } else {
      tipRow(tip, "A " + C.a.id, fmt(q.ea * 1e3, 4) + " mJ/img");
      tipRow(tip, "B " + C.b.id, fmt(q.eb * 1e3, 4) + " mJ/img");
      tipRow(tip, "reduction A/B", fmt(q.ea / q.eb, 3) + "\u00d7");
      suspectSides(i).forEach(function (t) { tip.appendChild(el("div", "t-warn", t)); });
    }
    tipRow(tip, "params", D.params[i] === null ? "\u2013" : fmt(D.params[i] / 1e6, 3) + " M");
    tipRow(tip, "GMACs", D.macs[i] === null ? "\u2013" : fmt(D.macs[i] / 1e9, 3));
    tipRow(tip, "year", D.year[i] === null ? "\u2013" : String(D.year[i]));
    tip.appendChild(el("div", "t-note", D.url[i] ? "click: open model page" : "no model page known"));
    tip.hidden = false;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var x = cx + 14, y = cy + 14;
    if (x + w > window.innerWidth - 4) x = cx - w - 14;
    if (y + h > window.innerHeight - 4) y = Math.max(4, cy - h - 14);
    tip.style.left = x + "px"; tip.style.top = y + "px";
    jb.tooltip = { which: which, model: D.name[i], img: D.img[i] };
  }
  function hideTip() { $("tooltip").hidden = true; jb.tooltip = null; }
  function attachHover(canvas, which) {
    canvas.addEventListener("mousemove", function (ev) {
      var r = canvas.getBoundingClientRect();
      var k = nearest(hit[which], ev.clientX - r.left, ev.clientY - r.top);
      if (k < 0) { hideTip(); canvas.style.cursor = "crosshair"; return; }
      canvas.style.cursor = D.url[hit[which].pts[k].i] ? "pointer" : "crosshair";
      showTip(which, k, ev.clientX, ev.clientY);
    });
    canvas.addEventListener("mouseleave", hideTip);
    canvas.addEventListener("click", function (ev) {
      var r = canvas.getBoundingClientRect();
      var k = nearest(hit[which], ev.clientX - r.left, ev.clientY - r.top);
      if (k < 0) return;
      var url = D.url[hit[which].pts[k].i];
      if (url && /^https?:\/\//i.test(url)) window.open(url, "_blank", "noopener,noreferrer");
    });
  }

  /* ---------------------------------------------------------------- upload */
  function parseCsv(text) {
    var rows = [], row = [], cell = "", q = false, i = 0, n = text.length;
    if (text.charCodeAt(0) === 0xfeff) i = 1;
    for (; i < n; i++) {
      var ch = text[i];
      if (q) {
        if (ch === '"') { if (text[i + 1] === '"') { cell += '"'; i++; } else q = false; } else cell += ch;
      } else if (ch === '"' && cell === "") q = true;
      else if (ch === ",") { row.push(cell); cell = ""; }
      else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") i++;
        row.push(cell); cell = "";
        if (row.length > 1 || row[0] !== "") rows.push(row);
        row = [];
        if (rows.length > MAX_UPLOAD_ROWS + 1) throw new Error("more than " + MAX_UPLOAD_ROWS + " rows; split the file");
      } else cell += ch;
    }
    if (q) throw new Error("a quoted field is never closed (unbalanced \")");
    row.push(cell);
    if (row.length > 1 || row[0] !== "") rows.push(row);
    return rows;
  }
  var UPLOAD_ALIASES = {
    model: ["model", "model_name"], img_size: ["img_size", "input_size"], gpu: ["gpu_name", "gpu"],
    runtime: ["runtime"], precision: ["precision"], energy: ["energy_per_image_j"],
    tp: ["throughput_ips"], lat: ["latency_mean_s", "latency_s"], bs: ["optimal_batch", "batch_size"],
    meter: ["meter"], accuracy: ["accuracy", "top1"], status: ["status"]
  };
  /* Same rule as joulebench.data.gpu_short_name, so uploaded setups line up with the store's:
   * 'NVIDIA H200' -> H200, 'NVIDIA A100-PCIE-40GB' -> A100, 'NVIDIA GeForce RTX 4090' -> RTX4090. */
  function shortGpu(name) {
    var s = String(name || "").trim(), t;
    var vendor = /^(nvidia|tesla|geforce|quadro|amd|radeon|instinct)\s+/i;
    while ((t = s.replace(vendor, "")) !== s) s = t;
    var toks = s.split(/[\s\-_]+/).filter(function (x) { return x; });
    if (!toks.length) return "unknown";
    var first = toks[0].toUpperCase();
    if ((first === "RTX" || first === "GTX") && toks.length > 1) return first + toks[1].toUpperCase();
    return first.slice(0, 24);
  }
  function finiteOrNaN(v) {
    if (v === undefined || v === null || String(v).trim() === "") return NaN;
    var x = Number(v);
    return isFinite(x) ? x : NaN;
  }
  /* Returns {added, setups, skipped} or throws Error with a message for the user. */
  function ingest(text, fileName) {
    var rows = parseCsv(text);
    if (rows.length < 2) throw new Error("no data rows (the first line must be a header)");
    var head = rows[0].map(function (h) { return h.trim().toLowerCase(); });
    var col = {};
    Object.keys(UPLOAD_ALIASES).forEach(function (k) {
      var found = UPLOAD_ALIASES[k].map(function (a) { return head.indexOf(a); }).filter(function (x) { return x >= 0; });
      col[k] = found.length ? found[0] : -1;
    });
    var tsCols = {};
    D.testsets.forEach(function (t) { var x = head.indexOf(t); if (x >= 0) tsCols[t] = x; });
    var missing = [];
    if (col.model < 0) missing.push("model");
    if (col.energy < 0) missing.push("energy_per_image_j");
    if (missing.length) {
      throw new Error("missing required column(s) " + missing.join(", ") + "; found " +
        head.slice(0, 12).map(function (h) { return h.slice(0, 30); }).join(", ") + ". Required: model, energy_per_image_j");
    }
    var bySetup = {}, skipped = { energy: 0, name: 0, failed: 0 }, newModels = 0;
    for (var r = 1; r < rows.length; r++) {
      var row = rows[r];
      var status = col.status >= 0 ? String(row[col.status] || "").trim().toLowerCase() : "";
      if (status && status !== "ok") { skipped.failed++; continue; } // failed runs carry no energy to plot
      var name = (row[col.model] || "").trim();
      if (!name || name.length > MAX_NAME_LEN) { skipped.name++; continue; }
      var e = finiteOrNaN(row[col.energy]);
      if (!(e > 0)) { skipped.energy++; continue; }
      var img = col.img_size >= 0 ? finiteOrNaN(row[col.img_size]) : NaN;
      var i = img === img ? D.keyIndex[name + "@" + Math.round(img)] : D.nameIndex[name];
      if (i === undefined) {
        i = D.n;
        D.name.push(name); D.img.push(img === img ? Math.round(img) : 0);
        var ut = D.types.indexOf("Unknown");
        if (ut < 0) { D.types.push("Unknown"); ut = D.types.length - 1; }
        var uf = D.families.indexOf("Unknown");
        if (uf < 0) { D.families.push("Unknown"); uf = D.families.length - 1; }
        D.type.push(ut); D.family.push(uf); D.year.push(null); D.params.push(null); D.macs.push(null); D.url.push(null);
        resizeAll(D.n + 1);
        indexModel(i);
        newModels++;
      }
      // uploaded accuracy fills gaps only: a setup never changes the reference accuracy of a model
      var acc = col.accuracy >= 0 ? finiteOrNaN(row[col.accuracy]) : NaN;
      if (acc === acc && D.acc.imagenet && D.acc.imagenet[i] !== D.acc.imagenet[i]) D.acc.imagenet[i] = acc;
      Object.keys(tsCols).forEach(function (t) {
        var v = finiteOrNaN(row[tsCols[t]]);
        if (v === v && D.acc[t][i] !== D.acc[t][i]) D.acc[t][i] = v;
      });
      var gpu = col.gpu >= 0 && row[col.gpu] ? shortGpu(row[col.gpu]) : "";
      var rt = (col.runtime >= 0 && row[col.runtime] ? row[col.runtime] : col.precision >= 0 && row[col.precision] ? row[col.precision] : "").trim().slice(0, 40);
      var sim = col.meter >= 0 && String(row[col.meter]).trim().toLowerCase() === "sim";
      var id = (gpu || rt ? (gpu || "GPU") + ":" + (rt || "runtime") : "uploaded") + (sim ? ":sim" : "") + " [" + fileName + "]";
      var b = bySetup[id] || (bySetup[id] = { id: id, gpu: gpu, runtime: rt, simulated: sim, m: [], e: [], tp: [], lat: [], bs: [], seen: {} });
      var val = [e, finiteOrNaN(row[col.tp]), finiteOrNaN(row[col.lat]), finiteOrNaN(row[col.bs])];
      if (i in b.seen) { var k = b.seen[i]; b.e[k] = val[0]; b.tp[k] = val[1]; b.lat[k] = val[2]; b.bs[k] = val[3]; continue; }
      b.seen[i] = b.m.length;
      b.m.push(i); b.e.push(val[0]); b.tp.push(val[1]); b.lat.push(val[2]); b.bs.push(val[3]);
    }
    var ids = Object.keys(bySetup);
    if (!ids.length) throw new Error("no usable rows: every row lacks a model name or a positive energy_per_image_j");
    ids.forEach(function (id) {
      var b = bySetup[id];
      if (D.setupById[id]) { // re-upload of the same file replaces its setup
        D.setups = D.setups.filter(function (s) { return s.id !== id; });
        delete D.setupById[id];
      }
      addSetup({ id: id, gpu: b.gpu, runtime: b.runtime, simulated: b.simulated, uploaded: true, source: "upload" }, b.m, b);
    });
    return { setups: ids, rows: ids.reduce(function (s, id) { return s + bySetup[id].m.length; }, 0), newModels: newModels, skipped: skipped };
  }
  function safeFileName(n) { return String(n).replace(/[^\w.\-]/g, "_").slice(0, 40); }
  function onUpload(file) {
    if (!file) return;
    if (file.size > MAX_UPLOAD_BYTES) {
      setMsg("Not loaded: " + safeFileName(file.name) + " is " + (file.size / 1048576).toFixed(1) + " MB; the limit is " + MAX_UPLOAD_BYTES / 1048576 + " MB.", "error");
      $("upload").value = "";
      return;
    }
    var reader = new FileReader();
    reader.onerror = function () { setMsg("Not loaded: the file could not be read.", "error"); };
    reader.onload = function () {
      var res, typesBefore = D.types.length;
      try {
        res = ingest(String(reader.result), safeFileName(file.name));
      } catch (err) {
        setMsg("Not loaded: " + safeFileName(file.name) + ": " + err.message + ".", "error");
        $("upload").value = "";
        jb.lastUpload = { ok: false, message: err.message };
        return;
      }
      S.types = S.types.concat(D.types.slice(typesBefore)); // a type new with the upload starts visible
      buildControls();
      if (!S.overlay || !D.setupById[S.overlay] || D.setupById[S.overlay].uploaded) S.overlay = res.setups[0];
      syncControls();
      var sk = res.skipped, notes = [];
      if (sk.energy) notes.push(sk.energy + " without a positive energy");
      if (sk.name) notes.push(sk.name + " without a usable model name");
      if (sk.failed) notes.push(sk.failed + " failed runs");
      var sims = res.setups.filter(function (id) { return D.setupById[id].simulated; }).length;
      setMsg("Loaded " + res.rows + " rows into " + res.setups.length + " setup(s)" + (res.newModels ? ", " + res.newModels + " models not in the reference" : "") +
        (sims ? "; simulated rows are labelled" : "") + (notes.length ? "; skipped " + notes.join(", ") : "") +
        ". Shown as \u25C7 overlay; pick them in the setup list to rank them.", "ok");
      jb.lastUpload = { ok: true, setups: res.setups, rows: res.rows, skipped: sk };
      changed("upload", renderAll);
    };
    reader.readAsText(file);
  }

  /* ------------------------------------------------------------ rendering */
  function timed(name, fn) {
    var t = performance.now();
    fn();
    jb.timings.parts[name] = performance.now() - t;
  }
  function renderExplorer() { timed("compute", compute); timed("scatter", drawScatter); timed("bars", drawBars); timed("table", drawTable); }
  function renderCompare() { timed("compare", computeCompare); timed("compare draw", drawCompare); }
  function renderAll() {
    // the explorer's result is always computed: the test hook and the table read it on either view
    if (S.view === "explorer") renderExplorer(); else { compute(); renderCompare(); }
  }
  /* Every control change goes through here: it times the synchronous work and the next frame, and exposes
   * the numbers on window.__jb for the benchmark (benchmarks/app_perf.py). */
  function changed(what, fn) {
    var t0 = performance.now();
    (fn || renderAll)();
    writeUrl();
    var t1 = performance.now();
    var rec = { control: what, sync_ms: t1 - t0, frame_ms: NaN };
    jb.timings.changes.push(rec);
    if (jb.timings.changes.length > 200) jb.timings.changes.shift();
    jb.timings.last = rec;
    requestAnimationFrame(function () { setTimeout(function () { rec.frame_ms = performance.now() - t0; jb.timings.settled = jb.timings.changes.length; }, 0); });
  }

  /* ------------------------------------------------------------- test hook */
  function pointInfo(q, which) {
    var h = hit[which], k = h ? h.pts.indexOf(q) : -1;
    var canvas = which === "explorer" ? $("scatter") : $("cmp-canvas");
    var r = canvas.getBoundingClientRect();
    return k < 0 ? null : { x: r.left + h.x[k], y: r.top + h.y[k] };
  }
  jb.flushUrl = flushUrl;
  jb.state = function () { return JSON.parse(JSON.stringify(S)); };
  jb.points = function () {
    return R.pts.concat(R.over).map(function (q) {
      var s = q.overlay ? R.overlay : R.setup;
      var c = pointInfo(q, "explorer");
      return { model: D.name[q.i], img: D.img[q.i], setup: s.id, energy_mj: q.e * 1e3, acc: q.a, type: D.types[D.type[q.i]],
        family: D.families[D.family[q.i]], ranked: q.ok, hit: q.hit, overlay: !!q.overlay, score: q.ok ? q.score : null,
        simulated: s.simulated, flag: s.flag[q.i] || null, cx: c && c.x, cy: c && c.y };
    });
  };
  jb.ranking = function () { return R.ranking.map(function (q) { return { model: D.name[q.i], img: D.img[q.i], score: q.score, acc: q.a, energy_mj: q.e * 1e3 }; }); };
  jb.frontier = function () { return R.frontier.map(function (q) { return { model: D.name[q.i], img: D.img[q.i] }; }); };
  jb.scale = function () { var h = hit.explorer; return h ? { xlog: h.xs.log, xlo: h.xs.lo, xhi: h.xs.hi, ylo: h.ys.lo, yhi: h.ys.hi, N_mj: R.N * 1e3 } : null; };
  jb.table = function () { return R.tableRows.map(function (q) { return D.name[q.i]; }); };
  jb.compare = function () {
    if (!C) computeCompare();
    return { a: C.a && C.a.id, b: C.b && C.b.id, n: C.rows.length, geomean: C.gm, median: C.median,
      points: C.rows.map(function (q) { var c = pointInfo(q, "compare"); return { model: D.name[q.i], img: D.img[q.i], factor: q.ea / q.eb, cx: c && c.x, cy: c && c.y }; }) };
  };
  jb.setups = function () { return D.setups.map(function (s) { return { id: s.id, count: s.count, simulated: s.simulated, uploaded: s.uploaded }; }); };

  /* ------------------------------------------------------------------ init */
  function init() {
    var raw = window.JB_DATA;
    if (!raw || !raw.models || !raw.setups) {
      setMsg("No data: data.js is missing or broken. Rebuild with `joulebench app build DIR`.", "error");
      jb.ready = true;
      return;
    }
    prepare(raw);
    S = decodeState(location.hash);
    buildControls();
    syncControls();
    scatter = new Plot($("scatter"));
    cmpPlot = new Plot($("cmp-canvas"));
    attachHover($("scatter"), "explorer");
    attachHover($("cmp-canvas"), "compare");

    $("controls").addEventListener("input", function (ev) {
      if (ev.target.id === "upload") return;
      readControls(); pages.explorer = 0; pages.compare = 0;
      changed(ev.target.id || ev.target.dataset.group);
    });
    $("controls").addEventListener("submit", function (ev) { ev.preventDefault(); });
    $("cmp-a").addEventListener("change", function () { readControls(); pages.compare = 0; changed("cmp-a"); });
    $("cmp-b").addEventListener("change", function () { readControls(); pages.compare = 0; changed("cmp-b"); });
    $("families-clear").addEventListener("click", function () { S.fams = []; syncControls(); changed("families-clear"); });
    $("reset").addEventListener("click", function () { var v = S.view; S = defaults(); S.view = v; syncControls(); changed("reset"); });
    $("upload").addEventListener("change", function (ev) { onUpload(ev.target.files && ev.target.files[0]); });
    $("tab-explorer").addEventListener("click", function () { S.view = "explorer"; syncControls(); changed("tab"); });
    $("tab-compare").addEventListener("click", function () { S.view = "compare"; syncControls(); changed("tab"); });
    $("prev-page").addEventListener("click", function () { pages.explorer--; changed("page", drawTable); });
    $("next-page").addEventListener("click", function () { pages.explorer++; changed("page", drawTable); });
    $("cmp-prev").addEventListener("click", function () { pages.compare--; changed("page", drawCmpTable); });
    $("cmp-next").addEventListener("click", function () { pages.compare++; changed("page", drawCmpTable); });
    $("download").addEventListener("click", function () {
      download("joulebench-" + safeFileName(S.setup) + ".csv", TABLE_COLS, R.tableRows, { head: ["setup", "ranked", "suspect"], row: function (q) { return [R.setup.id, q.ok ? 1 : 0, R.setup.flag[q.i] || ""]; } });
    });
    $("cmp-download").addEventListener("click", function () {
      download("joulebench-compare.csv", CMP_COLS, C.tableRows, { head: ["setup_a", "setup_b", "suspect_a", "suspect_b"], row: function (q) { return [C.a.id, C.b.id, C.a.flag[q.i] || "", C.b.flag[q.i] || ""]; } });
    });
    window.addEventListener("hashchange", function () {
      if (location.hash === encodeState()) return;
      S = decodeState(location.hash); syncControls(); changed("hash");
    });
    var pending = false;
    window.addEventListener("resize", function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; renderAll(); });
    });

    if (!D.setups.length) setMsg("This site holds no energy measurements: measure with `joulebench measure`, then rebuild it.", "error");
    renderAll();
    jb.timings.firstRender = performance.now();
    performance.mark("jb-first-render");
    requestAnimationFrame(function () { setTimeout(function () { jb.timings.firstFrame = performance.now(); jb.ready = true; }, 0); });
  }

  window.addEventListener("error", function (ev) { jb.errors.push(String(ev.message)); });
  try {
    init();
  } catch (err) {
    jb.errors.push(String(err && err.stack || err));
    setMsg("The explorer failed to start: " + (err && err.message) + ".", "error");
    jb.ready = true;
    throw err;
  }
})();
