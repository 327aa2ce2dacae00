/* The comparison view: setup A against setup B, the reduction-factor histogram and its table. */
var cmpLayer = document.createElement("canvas");
function drawCompare() {
  var p = cmpPlot;
  p.size();
  var ctx = p.ctx;
  ctx.clearRect(0, 0, p.w, p.h);
  var vals = [];
  comparison.rows.forEach(function (q) { vals.push(q.ea * 1e3, q.eb * 1e3); });
  var ex = extent(vals, true, 0.04);
  var xs = new Scale(ex[0], ex[1], p.m.l, p.m.l + p.pw, true);
  var ys = new Scale(ex[0], ex[1], p.m.t + p.ph, p.m.t, true);
  var why = compareEmptyReason();
  if (why) {
    p.message(why);
    hit.compare = { x: new Float32Array(0), y: new Float32Array(0), pts: [], xs: xs, ys: ys, plot: p };
    drawCompareText();
    return;
  }
  p.axes(xs, ys, "A: " + (comparison.a ? comparison.a.id : "?") + " (mJ/img)", "B: " + (comparison.b ? comparison.b.id : "?") + " (mJ/img)");
  p.clip();
  // reference lines: equal energy, and the geometric-mean reduction
  ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "bottom";
  var lines = [[1, "#8a949e", "A = B"]];
  if (isFinite(comparison.gm) && Math.abs(Math.log(comparison.gm)) > 0.01) lines.push([comparison.gm, "#b00020", "geometric mean A/B = " + fmt(comparison.gm, 3) + "\u00d7"]);
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
  var n = comparison.rows.length, hx = new Float32Array(n), hy = new Float32Array(n);
  comparison.rows.forEach(function (q, k) { hx[k] = xs.px(q.ea * 1e3); hy[k] = ys.px(q.eb * 1e3); });
  // stamped like the explorer's dots (an arc each costs ten times more on a software canvas)
  var key = [state.ca, state.cb, state.types, state.fams, state.q, dataset.version, n, xs.lo, xs.hi].join("|");
  dotImage(cmpLayer, p, key, function (d, w, h, dpr) {
    var dot = disc(3 * dpr);
    for (var k = 0; k < n; k++) stamp(d, w, h, hx[k] * dpr, hy[k] * dpr, dot, TYPE_RGB[dataset.type[comparison.rows[k].i] % TYPE_RGB.length], 0.75);
  });
  comparison.rows.forEach(function (q, k) {
    if (!q.hit) return;
    ctx.strokeStyle = "#e00000"; ctx.lineWidth = 2.2;
    ctx.beginPath(); ctx.arc(hx[k], hy[k], 7, 0, 6.2832); ctx.stroke();
  });
  ctx.restore();
  hit.compare = { x: hx, y: hy, pts: comparison.rows, xs: xs, ys: ys, plot: p };
  drawCompareText();
}
// Why the comparison has no point, in words; "" when it has.
function compareEmptyReason() {
  var a = comparison.a, b = comparison.b;
  if (comparison.rows.length) return "";
  if (!a || !b) return "Pick two setups, A and B, above the chart.";
  if (state.q.trim()) return "No model measured on both " + a.id + " and " + b.id + " matches \u201c" + state.q.trim() + "\u201d: check the spelling or clear the search.";
  if (!state.types.length) return "No architecture type ticked: tick at least one under Architecture types.";
  return "No model is measured on both " + a.id + " and " + b.id + " (with the current type and family filters): pick other setups.";
}
function drawCompareText() {
  var sum = $("cmp-summary");
  clear(sum);
  if (!comparison.rows.length) {
    sum.textContent = compareEmptyReason();
  } else {
    sum.appendChild(document.createTextNode("A/B energy, geometric mean over " + comparison.rows.length + " models: "));
    sum.appendChild(el("strong", null, fmt(comparison.gm, 3) + "\u00d7"));
    sum.appendChild(document.createTextNode(" (median " + fmt(comparison.median, 3) + "\u00d7, range " + fmt(comparison.min, 3) + "\u2013" + fmt(comparison.max, 3) + "\u00d7)"));
  }
  var lg = $("cmp-legend");
  typeLegend(lg);
  var notes = [];
  if (comparison.a && comparison.a.simulated) notes.push("A is SIMULATED");
  if (comparison.b && comparison.b.simulated) notes.push("B is SIMULATED");
  lg.appendChild(el("span", null, "Below the grey line B uses less energy than A." + (notes.length ? " " + notes.join("; ") + "." : "")));
  drawHistogram();
  drawTableSoon("compare");
}
/* Reduction factors binned on a log scale: how often B saves 1-1.5x, 1.5-2x, ... */
function drawHistogram() {
  var ol = $("cmp-hist");
  clear(ol);
  var edges = [0, 0.5, 0.8, 1, 1.25, 1.5, 2, 3, 4, 6, 8, Infinity];
  var counts = edges.slice(1).map(function () { return 0; });
  comparison.rows.forEach(function (q) {
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
function sortCompare(key) {
  if (state.csort === key) state.cdir = -state.cdir; else { state.csort = key; state.cdir = key === "model" || key === "type" ? 1 : -1; }
  changed("cmp-sort", drawCmpTable);
}
function drawCmpTable() {
  var sorted = sortRows(comparison.rows, CMP_COLS, state.csort, state.cdir);
  comparison.tableRows = sorted;
  var pg = renderTable("cmp-table", CMP_COLS, sorted, state.csort, state.cdir, "compare", sortCompare, function (q) { return q.hit ? "hit" : ""; });
  $("cmp-count").textContent = comparison.rows.length + " models";
  $("cmp-page-info").textContent = "page " + pg.page + " of " + pg.pageCount;
  $("cmp-prev").disabled = pg.page <= 1;
  $("cmp-next").disabled = pg.page >= pg.pageCount;
}
