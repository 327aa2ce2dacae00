/* What the explorer and the comparison show, computed from the data and the state (no drawing). */
var explorerView = null; // current explorer result
var comparison = null; // current compare result

/* The averaged accuracy of every model, kept until the test sets or the data change: a change of setup, score or
 * threshold reuses it. A model must have every chosen test set, else averages are not comparable (NaN). */
var meanAcc = { key: null, a: null };
function meanAccuracy(ts) {
  var key = ts.join("\n") + "|" + dataset.n + "|" + dataset.version;
  if (meanAcc.key === key) return meanAcc.a;
  var cols = ts.map(function (t) { return dataset.acc[t]; }), n = dataset.n, a = new Float64Array(n);
  for (var i = 0; i < n; i++) {
    var sum = 0, k = 0;
    for (; k < cols.length; k++) {
      var v = cols[k][i];
      if (v !== v) break;
      sum += v;
    }
    a[i] = cols.length && k === cols.length ? sum / cols.length : NaN;
  }
  meanAcc = { key: key, a: a };
  return a;
}
/* A setup's models in order of energy (ties by index), sorted once per setup: the frontier is then one pass. */
function energyOrder(s) {
  if (s.orderOf !== s.e) {
    var idx = [];
    for (var i = 0; i < s.e.length; i++) if (s.e[i] === s.e[i]) idx.push(i);
    var e = s.e;
    idx.sort(function (x, y) { return e[x] - e[y] || x - y; });
    s.order = Int32Array.from(idx);
    s.orderOf = s.e;
  }
  return s.order;
}
/* Each setup's columns decoded and its energies ordered while the page is idle, one setup a time, so that the
 * first switch to a setup, the model panel (every setup's readings of one model) and the comparison find them
 * ready. */
function warmSetups() {
  var todo = dataset.setups.slice();
  if (!window.requestIdleCallback) return; // then each setup is prepared on first use
  requestIdleCallback(function step(deadline) {
    while (todo.length && deadline.timeRemaining() > 5) {
      var s = todo.shift();
      decodeSetup(s);
      energyOrder(s);
    }
    if (todo.length) requestIdleCallback(step);
  });
}
// The first n of list in the order of before (negative: x goes first), as a stable sort would give them.
function topBy(list, n, before) {
  var top = [];
  for (var k = 0; k < list.length; k++) {
    var q = list[k];
    if (top.length === n && before(q, top[n - 1]) >= 0) continue;
    var j = top.length;
    while (j > 0 && before(q, top[j - 1]) < 0) j--;
    top.splice(j, 0, q);
    if (top.length > n) top.pop();
  }
  return top;
}
// The Pareto frontier of the eligible points: by energy (the setup's cached order), then accuracy, best so far.
function frontierOf(s, elig) {
  var at = [];
  elig.forEach(function (q) { at[q.i] = q; });
  var ord = energyOrder(s), frontier = [], best = -Infinity;
  for (var k = 0; k < ord.length;) {
    var run = [], j = k;
    for (; j < ord.length && s.e[ord[j]] === s.e[ord[k]]; j++) if (at[ord[j]]) run.push(at[ord[j]]);
    if (run.length > 1) run.sort(function (x, y) { return y.a - x.a; });
    for (var r = 0; r < run.length; r++) if (run[r].a > best) { frontier.push(run[r]); best = run[r].a; }
    k = j;
  }
  return frontier;
}
// Types, families and the search: what is shown in both views (the search filters, it does not only mark).
function visibleMask() {
  var typeOk = dataset.types.map(function (t) { return state.types.indexOf(t) >= 0; });
  var famOk = null;
  if (state.fams.length) famOk = dataset.families.map(function (f) { return state.fams.indexOf(f) >= 0; });
  var match = matcher();
  var mask = new Uint8Array(dataset.n);
  for (var i = 0; i < dataset.n; i++) {
    mask[i] = typeOk[dataset.type[i]] && (!famOk || famOk[dataset.family[i]]) && (!match || match(i)) ? 1 : 0;
  }
  return mask;
}
function matcher() {
  var q = state.q.trim().toLowerCase();
  if (!q) return null;
  var famHit = dataset.families.map(function (f) { return String(f).toLowerCase().indexOf(q) >= 0; });
  return function (i) { return famHit[dataset.family[i]] || dataset.lname[i].indexOf(q) >= 0; };
}
/* Accuracy per joule rewards a useless model that costs nothing (an untrained net at 41 % top-1 would rank
 * first), so without a minimum accuracy set it uses the median accuracy of the shown models, in whole %. */
function defaultMinAccuracy(pts) {
  if (!pts.length) return 0;
  var acc = new Float64Array(pts.length); // a typed array sorts numerically without a comparator call
  for (var k = 0; k < pts.length; k++) acc[k] = pts[k].a;
  acc.sort();
  return Math.floor(acc[Math.floor((acc.length - 1) / 2)]);
}
function scoreFn(N, amin) {
  if (state.score === "apj") {
    var a0 = amin === null ? 0 : amin;
    return function (eJ, a) { return (a - a0) / (eJ * 1e3); };
  }
  var W = state.w;
  return function (eJ, a) { return 100 - (W * 100 * (eJ / N) + (1 - W) * (100 - a)); };
}
function compute() {
  var s = dataset.setupById[state.setup];
  var mask = visibleMask();
  var searching = !!state.q.trim();
  var pts = [], missingAcc = 0, i, acc = meanAccuracy(state.ts);
  if (s) {
    for (i = 0; i < dataset.n; i++) {
      if (!mask[i]) continue;
      var e = s.e[i];
      if (e !== e) continue;
      var a = acc[i];
      if (a !== a) { missingAcc++; continue; }
      pts.push({ i: i, e: e, a: a, ok: false, hit: searching, score: NaN });
    }
  }
  var amin = state.amin, aminDefault = false;
  if (amin === null && state.score === "apj") { amin = defaultMinAccuracy(pts); aminDefault = true; }
  var emaxJ = state.emax === null ? Infinity : state.emax / 1e3;
  var elig = [], N = 0;
  for (i = 0; i < pts.length; i++) {
    var p = pts[i];
    p.ok = (amin === null || p.a >= amin) && p.e <= emaxJ;
    if (p.ok) { elig.push(p); if (p.e > N) N = p.e; }
  }
  var f = scoreFn(N, amin);
  elig.forEach(function (q) { q.score = f(q.e, q.a); });
  var ranking = topBy(elig, state.top, function (x, y) { return y.score - x.score || x.e - y.e; });
  var frontier = s ? frontierOf(s, elig) : [];
  var over = [];
  var so = state.overlay && state.overlay !== state.setup ? dataset.setupById[state.overlay] : null;
  if (so) {
    for (var j = 0; j < dataset.n; j++) {
      if (!mask[j] || so.e[j] !== so.e[j]) continue;
      var aj = acc[j];
      if (aj === aj) over.push({ i: j, e: so.e[j], a: aj, ok: false, hit: searching, score: NaN, overlay: true });
    }
  }
  explorerView = { setup: s, overlay: so, pts: pts, elig: elig, N: N, f: f, amin: amin, aminDefault: aminDefault,
    ranking: ranking, frontier: frontier, over: over, missingAcc: missingAcc, rank: rankOf(ranking) };
}
function rankOf(ranking) {
  var r = {};
  ranking.forEach(function (q, k) { r[q.i] = k + 1; });
  return r;
}
// Per million images: kWh, grams CO2e at the chosen grid intensity, cost in the chosen currency.
function perMillion(eJ) {
  var kwh = eJ * 1e6 / 3.6e6;
  return { kwh: kwh, co2_g: kwh * state.ci, cost: kwh * state.price };
}
// Why a reading is suspect, as shown beside it: one line for the explorer's setup, one per side in a comparison.
function suspectNote(s, i) { return s && s.flag[i] ? "suspect reading: " + s.flag[i] : ""; }
function suspectSides(i) {
  return [["A", comparison.a], ["B", comparison.b]].filter(function (x) { return x[1].flag[i]; })
    .map(function (x) { return "suspect " + x[0] + " reading: " + x[1].flag[i]; });
}
function computeCompare() {
  var a = dataset.setupById[state.ca], b = dataset.setupById[state.cb];
  var mask = visibleMask(), searching = !!state.q.trim();
  var rows = [];
  if (a && b) {
    for (var i = 0; i < dataset.n; i++) {
      if (!mask[i] || a.e[i] !== a.e[i] || b.e[i] !== b.e[i]) continue;
      rows.push({ i: i, ea: a.e[i], eb: b.e[i], hit: searching });
    }
  }
  var logs = rows.map(function (q) { return Math.log(q.ea / q.eb); }).sort(function (x, y) { return x - y; });
  var gm = logs.length ? Math.exp(logs.reduce(function (s, v) { return s + v; }, 0) / logs.length) : NaN;
  var med = logs.length ? Math.exp(logs.length % 2 ? logs[(logs.length - 1) / 2] : (logs[logs.length / 2 - 1] + logs[logs.length / 2]) / 2) : NaN;
  comparison = { a: a, b: b, rows: rows, gm: gm, median: med, min: logs.length ? Math.exp(logs[0]) : NaN, max: logs.length ? Math.exp(logs[logs.length - 1]) : NaN };
}
