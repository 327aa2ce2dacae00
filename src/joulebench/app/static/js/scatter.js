/* The explorer's scatter (score bands, thresholds, points, frontier, marks) and its legend. */
var scatter, cmpPlot, hit = { explorer: null, compare: null };

/* Filled contours of the score: the plot area is sampled every 3 px into bands of equal score steps
 * (darker = better), drawn from a small offscreen image so it costs about a millisecond. */
var bandCanvas = document.createElement("canvas");
function drawBands(p, xs, ys) {
  if (!explorerView.elig.length) return;
  var step = 3, bw = Math.ceil(p.pw / step), bh = Math.ceil(p.ph / step);
  var lo = Infinity, hi = -Infinity;
  explorerView.elig.forEach(function (q) { if (q.score < lo) lo = q.score; if (q.score > hi) hi = q.score; });
  if (!(hi > lo)) return;
  var levels = 8, width = (hi - lo) / levels;
  // the score written out here rather than called through explorerView.f: one call site shared by two
  // formulas would lose the compiler's fast path each time the score is switched
  var apj = state.score === "apj", a0 = explorerView.amin === null ? 0 : explorerView.amin, W = state.w, N = explorerView.N;
  // the same bands are drawn again from the image while neither the score nor the plotted range changes
  var key = [apj, a0, W, N, lo, hi, xs.lo, xs.hi, xs.log, ys.lo, ys.hi, p.pw, p.ph, p.m.l, p.m.t].join("|");
  if (bandCanvas.key !== key) { paintBands(bw, bh, step, lo, width, levels, p, xs, ys, apj, a0, W, N); bandCanvas.key = key; }
  p.ctx.imageSmoothingEnabled = false;
  p.ctx.drawImage(bandCanvas, 0, 0, bw, bh, p.m.l, p.m.t, bw * step, bh * step);
}
function paintBands(bw, bh, step, lo, width, levels, p, xs, ys, apj, a0, W, N) {
  bandCanvas.width = bw; bandCanvas.height = bh;
  var bctx = bandCanvas.getContext("2d");
  var img = bctx.createImageData(bw, bh), d = img.data;
  var ex = new Float64Array(bw);
  for (var x = 0; x < bw; x++) ex[x] = xs.inv(p.m.l + (x + 0.5) * step) / 1e3;
  for (var y = 0; y < bh; y++) {
    var a = ys.inv(p.m.t + (y + 0.5) * step);
    for (var x2 = 0; x2 < bw; x2++) {
      var sc = apj ? (a - a0) / (ex[x2] * 1e3) : 100 - (W * 100 * (ex[x2] / N) + (1 - W) * (100 - a));
      var lv = Math.floor((sc - lo) / width);
      if (lv < 0) lv = -1;
      if (lv >= levels) lv = levels - 1;
      var o = (y * bw + x2) * 4;
      d[o] = 11; d[o + 1] = 92; d[o + 2] = 173;
      d[o + 3] = lv < 0 ? 0 : 8 + lv * 7;
    }
  }
  bctx.putImageData(img, 0, 0);
}

function typeColor(i) { return TYPE_COLORS[dataset.type[i] % TYPE_COLORS.length]; }

// Why the scatter is empty, in words a user can act on; "" when there is something to plot.
function emptyReason() {
  var v = explorerView, s = v.setup;
  if (!dataset.setups.length) return "This site holds no energy measurements: measure with `joulebench measure`, then rebuild it.";
  if (!s) return "No setup chosen: pick a GPU and runtime.";
  if (!state.ts.length) return "No test set ticked: tick at least one under Test sets to plot accuracy.";
  if (!state.types.length) return "No architecture type ticked: tick at least one under Architecture types.";
  if (v.pts.length) return "";
  if (state.q.trim()) return "No model on " + s.id + " matches \u201c" + state.q.trim() + "\u201d: check the spelling or clear the search.";
  if (v.missingAcc) return "None of the " + v.missingAcc + " models shown on " + s.id + " has accuracy on " + state.ts.join(" + ") + ": choose other test sets.";
  return "No model on " + s.id + " passes the type and family filters: widen them.";
}
// The scatter's ranges: the zoom when set, else all shown points with a small margin.
function scatterRanges(all, log) {
  if (state.zoom) {
    var z = state.zoom;
    return [log ? Math.max(z[0], 1e-9) : z[0], z[1], z[2], z[3]];
  }
  var xe = extent(all.map(function (q) { return q.e * 1e3; }), log, log ? 0.04 : 0.03);
  if (!log) xe[0] = Math.max(0, xe[0]);
  var ye = extent(all.map(function (q) { return q.a; }), false, 0.04);
  return [xe[0], xe[1], ye[0], ye[1]];
}
function drawThresholds(p, xs, ys) {
  var ctx = p.ctx, amin = explorerView.amin;
  ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5; ctx.strokeStyle = "#b00020"; ctx.fillStyle = "#b00020";
  ctx.font = "11px system-ui, sans-serif";
  if (amin !== null) {
    var ya = ys.px(amin);
    ctx.beginPath(); ctx.moveTo(p.m.l, ya); ctx.lineTo(p.m.l + p.pw, ya); ctx.stroke();
    ctx.textAlign = "left"; ctx.textBaseline = "bottom";
    ctx.fillText("min accuracy " + fmt(amin, 4) + "%" + (explorerView.aminDefault ? " (default for accuracy per joule)" : ""), p.m.l + 4, ya - 2);
  }
  if (state.emax !== null && state.emax > 0) {
    var xm = xs.px(state.emax);
    ctx.beginPath(); ctx.moveTo(xm, p.m.t); ctx.lineTo(xm, p.m.t + p.ph); ctx.stroke();
    ctx.textAlign = "right"; ctx.textBaseline = "top"; ctx.fillText("max energy " + state.emax + " mJ", xm - 3, p.m.t + 3);
  }
  ctx.setLineDash([]);
}
/* The dots are stamped into a bitmap from precomputed anti-aliased discs and drawn with one drawImage: a
 * software canvas spends ~10 ms rasterising 2,000 arcs (~40 ms on a CPU four times slower), the stamps a
 * tenth of that. Outside the thresholds: small grey dots; inside: coloured by architecture type. */
var dotLayer = document.createElement("canvas");
var discCache = {};
function disc(r) { // coverage of a disc of radius r on a pixel grid, 4x4 samples per pixel
  var key = r.toFixed(2);
  if (discCache[key]) return discCache[key];
  var half = Math.ceil(r + 0.5), n = 2 * half + 1, m = new Float32Array(n * n);
  for (var y = 0; y < n; y++) {
    for (var x = 0; x < n; x++) {
      var inside = 0;
      for (var sy = 0; sy < 4; sy++) {
        for (var sx = 0; sx < 4; sx++) {
          var dx = x - half + (sx + 0.5) / 4 - 0.5, dy = y - half + (sy + 0.5) / 4 - 0.5;
          if (dx * dx + dy * dy <= r * r) inside++;
        }
      }
      m[y * n + x] = inside / 16;
    }
  }
  // only the pixels the disc touches, as offsets from its centre
  var dx = [], dy = [], c = [];
  for (var k = 0; k < n * n; k++) if (m[k] > 0) { dx.push(k % n - half); dy.push(Math.floor(k / n) - half); c.push(m[k]); }
  return (discCache[key] = { dx: dx, dy: dy, c: new Float32Array(c), half: half, off: null, offFor: -1 });
}
// The disc's pixels as offsets into RGBA data w pixels wide, kept for the last width asked.
function discOffsets(dk, w) {
  if (dk.offFor !== w) {
    dk.off = new Int32Array(dk.c.length);
    for (var j = 0; j < dk.c.length; j++) dk.off[j] = (dk.dy[j] * w + dk.dx[j]) * 4;
    dk.offFor = w;
  }
  return dk.off;
}
function hexRgb(h) { return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)]; }
var TYPE_RGB = TYPE_COLORS.map(hexRgb);
function stamp(d, w, h, cx, cy, dk, rgb, alpha) {
  var x0 = Math.round(cx), y0 = Math.round(cy), half = dk.half;
  if (x0 >= half && x0 + half < w && y0 >= half && y0 + half < h) { // wholly inside: no check per pixel
    var off = discOffsets(dk, w), base = (y0 * w + x0) * 4, cov = dk.c, r = rgb[0], g = rgb[1], b = rgb[2];
    for (var i = 0; i < cov.length; i++) {
      var q = base + off[i], s = cov[i] * alpha, qa = d[q + 3];
      if (qa === 0) { d[q] = r; d[q + 1] = g; d[q + 2] = b; d[q + 3] = s * 255; continue; }
      var ka = qa / 255 * (1 - s), sa = s + ka;
      d[q] = (r * s + d[q] * ka) / sa; d[q + 1] = (g * s + d[q + 1] * ka) / sa; d[q + 2] = (b * s + d[q + 2] * ka) / sa;
      d[q + 3] = sa * 255;
    }
    return;
  }
  for (var j = 0; j < dk.c.length; j++) {
    var px = x0 + dk.dx[j], py = y0 + dk.dy[j];
    if (px < 0 || px >= w || py < 0 || py >= h) continue;
    var o = (py * w + px) * 4, a = dk.c[j] * alpha;
    if (d[o + 3] === 0) { d[o] = rgb[0]; d[o + 1] = rgb[1]; d[o + 2] = rgb[2]; d[o + 3] = a * 255; continue; } // on nothing yet
    var da = d[o + 3] / 255, oa = a + da * (1 - a), k = da * (1 - a);
    d[o] = (rgb[0] * a + d[o] * k) / oa; d[o + 1] = (rgb[1] * a + d[o + 1] * k) / oa; d[o + 2] = (rgb[2] * a + d[o + 2] * k) / oa;
    d[o + 3] = oa * 255;
  }
}
function drawPoints(p, hx, hy) {
  var pts = explorerView.pts;
  // the dots move only with what is shown, the thresholds, the axes and the zoom: a change of weight, score
  // (with a set minimum accuracy), top N, carbon or currency reuses them
  var key = [state.setup, state.ts, state.types, state.fams, state.q, explorerView.amin, state.emax, state.axis,
    state.zoom, dataset.version, pts.length].join("|");
  dotImage(dotLayer, p, key, function (d, w, h, dpr) {
    var faded = disc(2.2 * dpr), dot = disc(3 * dpr), grey = [120, 128, 136];
    for (var k = 0; k < pts.length; k++) if (!pts[k].ok) stamp(d, w, h, hx[k] * dpr, hy[k] * dpr, faded, grey, 0.35);
    for (var j = 0; j < pts.length; j++) {
      if (pts[j].ok) stamp(d, w, h, hx[j] * dpr, hy[j] * dpr, dot, TYPE_RGB[dataset.type[pts[j].i] % TYPE_RGB.length], 0.75);
    }
  });
}
// Draws the plot's dots from layer, stamping them again (fill(data, w, h, dpr)) only when key has changed.
function dotImage(layer, p, key, fill) {
  var dpr = window.devicePixelRatio || 1;
  var w = Math.round(p.w * dpr), h = Math.round(p.h * dpr);
  key += "|" + w + "|" + h;
  if (key !== layer.key) {
    layer.key = key;
    var lctx = layer.getContext("2d");
    if (layer.width !== w || layer.height !== h || !layer.img) {
      layer.width = w; layer.height = h; layer.img = lctx.createImageData(w, h);
    }
    var d = layer.img.data;
    d.fill(0);
    fill(d, w, h, dpr);
    lctx.putImageData(layer.img, 0, 0);
  }
  p.ctx.drawImage(layer, 0, 0, p.w, p.h);
}
function drawScatter() {
  var p = scatter;
  timed("scatter layout", function () { p.size(); });
  var ctx = p.ctx, v = explorerView;
  ctx.clearRect(0, 0, p.w, p.h);
  var all = v.pts.concat(v.over);
  var log = state.axis === "log";
  var r = scatterRanges(all, log);
  var xs = new Scale(r[0], r[1], p.m.l, p.m.l + p.pw, log);
  var ys = new Scale(r[2], r[3], p.m.t + p.ph, p.m.t, false);
  var n = all.length, hx = new Float32Array(n), hy = new Float32Array(n);
  hit.explorer = { x: hx, y: hy, pts: all, xs: xs, ys: ys, plot: p };
  var why = emptyReason();
  $("scatter").setAttribute("aria-label", why || scatterSummary(xs, ys));
  if (why) { p.message(why); drawLegend(); return; }
  p.clip();
  timed("scatter bands", function () { drawBands(p, xs, ys); });
  ctx.restore();
  p.axes(xs, ys, "Energy per image (mJ, " + state.axis + (state.zoom ? ", zoomed" : "") + ")", "Top-1 accuracy (%), " + state.ts.join(" + "));
  p.clip();
  drawThresholds(p, xs, ys);
  for (var k = 0; k < n; k++) { hx[k] = xs.px(all[k].e * 1e3); hy[k] = ys.px(all[k].a); }
  drawPoints(p, hx, hy);
  var base = v.pts.length; // overlay setup: hollow diamonds
  v.over.forEach(function (q, j) {
    var x = hx[base + j], y = hy[base + j];
    ctx.strokeStyle = typeColor(q.i); ctx.lineWidth = 1.6;
    ctx.beginPath(); ctx.moveTo(x, y - 5); ctx.lineTo(x + 5, y); ctx.lineTo(x, y + 5); ctx.lineTo(x - 5, y); ctx.closePath(); ctx.stroke();
  });
  if (v.frontier.length > 1) { // Pareto frontier
    ctx.strokeStyle = "#1d2329"; ctx.lineWidth = 1.5;
    ctx.beginPath();
    v.frontier.forEach(function (q, j) {
      var x = xs.px(q.e * 1e3), y = ys.px(q.a);
      if (j === 0) ctx.moveTo(x, y); else { ctx.lineTo(x, ys.px(v.frontier[j - 1].a)); ctx.lineTo(x, y); }
    });
    ctx.stroke();
  }
  ctx.strokeStyle = "#d97706"; ctx.lineWidth = 1.4; // readings that fail a consistency check: orange square
  v.pts.forEach(function (q, j) { if (v.setup.flag[q.i]) ctx.strokeRect(hx[j] - 4.5, hy[j] - 4.5, 9, 9); });
  ctx.strokeStyle = "#1d2329"; ctx.lineWidth = 1.2; // top-ranked: ring
  v.ranking.forEach(function (q) { ctx.beginPath(); ctx.arc(xs.px(q.e * 1e3), ys.px(q.a), 5.5, 0, 6.2832); ctx.stroke(); });
  drawLabels(p, hx, hy, all);
  ctx.restore();
  drawLegend();
}
/* Names beside the highlighted points: the model in the panel and the keyboard's point, the ranked models
 * (with their rank) and the search matches.
 * Labels are placed greedily and one that would cover another is left out (the legend counts them). */
var MAX_LABELS = 40;
function drawLabels(p, hx, hy, all) {
  var ctx = p.ctx, placed = [], want = [];
  var sel = state.model ? dataset.keyIndex[state.model] : -1;
  for (var k = 0; k < all.length; k++) {
    var q = all[k];
    var inside = hx[k] >= p.m.l && hx[k] <= p.m.l + p.pw && hy[k] >= p.m.t && hy[k] <= p.m.t + p.ph;
    if (!inside) continue;
    var first = q.i === sel || (q.i === keyFocus.i && !!q.overlay === keyFocus.overlay);
    var rank = q.overlay ? 0 : explorerView.rank[q.i] || 0;
    if (first || q.hit || rank) want.push({ k: k, first: first, rank: rank || Infinity, ring: first || q.hit });
  }
  // the model in the panel first, then the best ranked, then the other search matches
  want.sort(function (a, b) { return b.first - a.first || a.rank - b.rank; });
  ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "bottom";
  var shown = 0, hidden = 0;
  want.forEach(function (w) {
    var k = w.k, q = all[k], x = hx[k], y = hy[k];
    if (w.ring) {
      ctx.strokeStyle = w.first ? "#0b5cad" : "#e00000"; ctx.lineWidth = 2.2;
      ctx.beginPath(); ctx.arc(x, y, 7, 0, 6.2832); ctx.stroke();
    }
    var label = dataset.name[q.i] + (dataset.img[q.i] ? " @" + dataset.img[q.i] : "");
    var tw = ctx.measureText((w.rank < Infinity ? "#" + w.rank + " " : "") + label).width + 4;
    var bx = x + 8 + tw > p.m.l + p.pw ? x - 8 - tw : x + 8, by = y - 18;
    var box = [bx, by, bx + tw, by + 14];
    var clash = placed.some(function (o) { return box[0] < o[2] && box[2] > o[0] && box[1] < o[3] && box[3] > o[1]; });
    if ((clash || shown >= MAX_LABELS) && !w.first) { hidden++; return; }
    placed.push(box); shown++;
    ctx.fillStyle = "rgba(255,255,255,0.88)"; ctx.fillRect(bx, by, tw, 14);
    ctx.fillStyle = w.first ? "#0b3d75" : w.ring ? "#7a0000" : "#1d2329";
    ctx.fillText((w.rank < Infinity ? "#" + w.rank + " " : "") + label, bx + 2, by + 13);
  });
  explorerView.labels = { shown: shown, hidden: hidden };
}
// What a screen reader hears for the scatter: counts, ranges and the best models; the table below lists every point.
function scatterSummary(xs, ys) {
  var v = explorerView;
  return "Scatter of energy per image against accuracy on " + v.setup.id + ": " + v.pts.length + " models, energy " +
    fmt(xs.lo, 3) + " to " + fmt(xs.hi, 3) + " mJ, accuracy " + fmt(ys.lo, 3) + " to " + fmt(ys.hi, 3) + " %. Best: " +
    v.ranking.slice(0, 3).map(function (q) { return dataset.name[q.i]; }).join(", ") +
    ". The table Visible models lists every point; arrow keys step through the points.";
}

// The colour key of the architecture types, first in a legend (both views).
function typeLegend(lg) {
  clear(lg);
  dataset.types.forEach(function (t, ti) {
    var sp = el("span");
    var sw = el("span", "swatch"); sw.style.background = TYPE_COLORS[ti % TYPE_COLORS.length];
    sp.appendChild(sw); sp.appendChild(document.createTextNode(t));
    lg.appendChild(sp);
  });
}
function drawLegend() {
  var lg = $("legend");
  var s = explorerView.setup;
  var txt = (s ? s.id : "no setup") + ": " + explorerView.elig.length + " ranked of " + explorerView.pts.length + " shown";
  if (explorerView.missingAcc && state.ts.length) txt += ", " + explorerView.missingAcc + " without accuracy on " + state.ts.join(" + ");
  var lb = explorerView.labels;
  if (lb && lb.hidden) txt += "; " + lb.hidden + " name(s) left out where labels would overlap (zoom in to see them)";
  if (explorerView.over.length) txt += "; \u25C7 " + explorerView.overlay.id + " (" + explorerView.over.length + ")";
  if (s && s.simulated) txt += "; SIMULATED numbers";
  var flagged = explorerView.pts.filter(function (q) { return s && s.flag[q.i]; }).length;
  if (flagged) txt += "; orange squares: " + flagged + " reading(s) failing a consistency check (hover for why)";
  txt += ". Line: Pareto frontier; shading: score (darker = better); rings: top " + state.top + ".";
  // rebuilt only when its words change: unchanged boxes cost the next frame no layout
  var key = dataset.types.join("|") + "|" + txt;
  if (lg.dataset.key === key) return;
  lg.dataset.key = key;
  typeLegend(lg);
  lg.appendChild(el("span", null, txt));
}
