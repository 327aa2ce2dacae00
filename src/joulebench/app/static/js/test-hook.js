/* window.__jb: what the page plots, for the browser tests and the benchmark. */
function pointInfo(q, which) {
  var h = hit[which], k = h ? h.pts.indexOf(q) : -1;
  var canvas = which === "explorer" ? $("scatter") : $("cmp-canvas");
  var r = canvas.getBoundingClientRect();
  return k < 0 ? null : { x: r.left + h.x[k], y: r.top + h.y[k] };
}
jb.flushUrl = flushUrl;
jb.state = function () { return JSON.parse(JSON.stringify(state)); };
jb.points = function () {
  return explorerView.pts.concat(explorerView.over).map(function (q) {
    var s = q.overlay ? explorerView.overlay : explorerView.setup;
    var c = pointInfo(q, "explorer");
    return { model: dataset.name[q.i], img: dataset.img[q.i], setup: s.id, energy_mj: q.e * 1e3, acc: q.a, type: dataset.types[dataset.type[q.i]],
      family: dataset.families[dataset.family[q.i]], ranked: q.ok, hit: q.hit, overlay: !!q.overlay, score: q.ok ? q.score : null,
      simulated: s.simulated, flag: s.flag[q.i] || null, cx: c && c.x, cy: c && c.y };
  });
};
jb.ranking = function () { return explorerView.ranking.map(function (q) { return { model: dataset.name[q.i], img: dataset.img[q.i], score: q.score, acc: q.a, energy_mj: q.e * 1e3 }; }); };
jb.frontier = function () { return explorerView.frontier.map(function (q) { return { model: dataset.name[q.i], img: dataset.img[q.i] }; }); };
jb.scale = function () { var h = hit.explorer; return h ? { xlog: h.xs.log, xlo: h.xs.lo, xhi: h.xs.hi, ylo: h.ys.lo, yhi: h.ys.hi, N_mj: explorerView.N * 1e3 } : null; };
jb.table = function () { flushTable("explorer"); return explorerView.tableRows.map(function (q) { return dataset.name[q.i]; }); };
jb.compare = function () {
  if (!comparison) computeCompare();
  return { a: comparison.a && comparison.a.id, b: comparison.b && comparison.b.id, n: comparison.rows.length, geomean: comparison.gm, median: comparison.median,
    points: comparison.rows.map(function (q) { var c = pointInfo(q, "compare"); return { model: dataset.name[q.i], img: dataset.img[q.i], factor: q.ea / q.eb, cx: c && c.x, cy: c && c.y }; }) };
};
jb.setups = function () { return dataset.setups.map(function (s) { return { id: s.id, count: s.count, simulated: s.simulated, uploaded: s.uploaded }; }); };
jb.panel = function () {
  if (!state.model || $("panel").hidden) return null;
  var i = dataset.keyIndex[state.model];
  return { model: dataset.name[i], img: dataset.img[i],
    setups: dataset.setups.filter(function (s) { return s.e[i] > 0; }).map(function (s) { return { id: s.id, energy_mj: s.e[i] * 1e3, ci: isFinite(s.ci[i]) ? s.ci[i] : null }; }),
    curves: Array.prototype.map.call(document.querySelectorAll("#panel canvas.batch-curve"), function (cv) {
      var c = dataset.setupById[cv.dataset.setup].curves[i];
      return { setup: cv.dataset.setup, batch: c.bs.slice(), energy_mj: c.e.map(function (e) { return e * 1e3; }), ci: c.ci.slice(), width: cv.clientWidth, height: cv.clientHeight };
    }) };
};
jb.labels = function () { return explorerView.labels || null; };
