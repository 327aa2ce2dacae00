/* What the explorer and the comparison show, computed from the data and the state (no drawing). */
var explorerView = null; // current explorer result
var comparison = null; // current compare result

function accuracyOf(i, ts) {
  var sum = 0;
  for (var k = 0; k < ts.length; k++) {
    var a = dataset.acc[ts[k]][i];
    if (a !== a) return NaN; // a model must have every chosen test set, else averages are not comparable
    sum += a;
  }
  return ts.length ? sum / ts.length : NaN;
}
function visibleMask() {
  var typeOk = dataset.types.map(function (t) { return state.types.indexOf(t) >= 0; });
  var famOk = null;
  if (state.fams.length) famOk = dataset.families.map(function (f) { return state.fams.indexOf(f) >= 0; });
  var mask = new Uint8Array(dataset.n);
  for (var i = 0; i < dataset.n; i++) mask[i] = typeOk[dataset.type[i]] && (!famOk || famOk[dataset.family[i]]) ? 1 : 0;
  return mask;
}
function matcher() {
  var q = state.q.trim().toLowerCase();
  if (!q) return null;
  return function (i) {
    return dataset.name[i].toLowerCase().indexOf(q) >= 0 || String(dataset.families[dataset.family[i]]).toLowerCase().indexOf(q) >= 0;
  };
}
function scoreFn(N) {
  if (state.score === "apj") {
    var a0 = state.amin === null ? 0 : state.amin;
    return function (eJ, a) { return (a - a0) / (eJ * 1e3); };
  }
  var W = state.w;
  return function (eJ, a) { return 100 - (W * 100 * eJ / N + (1 - W) * (100 - a)); };
}
function compute() {
  var s = dataset.setupById[state.setup];
  var mask = visibleMask();
  var match = matcher();
  var pts = [], missingAcc = 0;
  if (s) {
    for (var i = 0; i < dataset.n; i++) {
      if (!mask[i]) continue;
      var e = s.e[i];
      if (e !== e) continue;
      var a = accuracyOf(i, state.ts);
      if (a !== a) { missingAcc++; continue; }
      var eligible = (state.amin === null || a >= state.amin) && (state.emax === null || e * 1e3 <= state.emax);
      pts.push({ i: i, e: e, a: a, ok: eligible, hit: match ? match(i) : false, score: NaN });
    }
  }
  var elig = pts.filter(function (p) { return p.ok; });
  var N = 0;
  elig.forEach(function (p) { if (p.e > N) N = p.e; });
  var f = scoreFn(N);
  elig.forEach(function (p) { p.score = f(p.e, p.a); });
  var ranking = elig.slice().sort(function (x, y) { return y.score - x.score || x.e - y.e; }).slice(0, state.top);
  var byE = elig.slice().sort(function (x, y) { return x.e - y.e || y.a - x.a; });
  var frontier = [], best = -Infinity;
  byE.forEach(function (p) { if (p.a > best) { frontier.push(p); best = p.a; } });
  var over = [];
  var so = state.overlay && state.overlay !== state.setup ? dataset.setupById[state.overlay] : null;
  if (so) {
    for (var j = 0; j < dataset.n; j++) {
      if (!mask[j] || so.e[j] !== so.e[j]) continue;
      var aj = accuracyOf(j, state.ts);
      if (aj === aj) over.push({ i: j, e: so.e[j], a: aj, ok: false, hit: match ? match(j) : false, score: NaN, overlay: true });
    }
  }
  explorerView = { setup: s, overlay: so, pts: pts, elig: elig, N: N, f: f, ranking: ranking, frontier: frontier, over: over, missingAcc: missingAcc };
}
function perMillion(eJ) {
  var kwh = eJ * 1e6 / 3.6e6;
  return { kwh: kwh, co2: kwh * state.ci / 1000, cost: kwh * state.price };
}
// Why a reading is suspect, as shown beside it: one line for the explorer's setup, one per side in a comparison.
function suspectNote(s, i) { return s && s.flag[i] ? "suspect reading: " + s.flag[i] : ""; }
function suspectSides(i) {
  return [["A", comparison.a], ["B", comparison.b]].filter(function (x) { return x[1].flag[i]; })
    .map(function (x) { return "suspect " + x[0] + " reading: " + x[1].flag[i]; });
}
function computeCompare() {
  var a = dataset.setupById[state.ca], b = dataset.setupById[state.cb];
  var mask = visibleMask(), match = matcher();
  var rows = [];
  if (a && b) {
    for (var i = 0; i < dataset.n; i++) {
      if (!mask[i] || a.e[i] !== a.e[i] || b.e[i] !== b.e[i]) continue;
      rows.push({ i: i, ea: a.e[i], eb: b.e[i], hit: match ? match(i) : false });
    }
  }
  var logs = rows.map(function (q) { return Math.log(q.ea / q.eb); }).sort(function (x, y) { return x - y; });
  var gm = logs.length ? Math.exp(logs.reduce(function (s, v) { return s + v; }, 0) / logs.length) : NaN;
  var med = logs.length ? Math.exp(logs.length % 2 ? logs[(logs.length - 1) / 2] : (logs[logs.length / 2 - 1] + logs[logs.length / 2]) / 2) : NaN;
  comparison = { a: a, b: b, rows: rows, gm: gm, median: med, min: logs.length ? Math.exp(logs[0]) : NaN, max: logs.length ? Math.exp(logs[logs.length - 1]) : NaN };
}
