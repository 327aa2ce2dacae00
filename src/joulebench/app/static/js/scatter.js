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
  bandCanvas.width = bw; bandCanvas.height = bh;
  var bctx = bandCanvas.getContext("2d");
  var img = bctx.createImageData(bw, bh), d = img.data;
  var ex = new Float64Array(bw);
  for (var x = 0; x < bw; x++) ex[x] = xs.inv(p.m.l + (x + 0.5) * step) / 1e3;
  for (var y = 0; y < bh; y++) {
    var a = ys.inv(p.m.t + (y + 0.5) * step);
    for (var x2 = 0; x2 < bw; x2++) {
      var sc = explorerView.f(ex[x2], a);
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

function typeColor(i) { return TYPE_COLORS[dataset.type[i] % TYPE_COLORS.length]; }

function drawScatter() {
  var p = scatter;
  p.size();
  var ctx = p.ctx;
  ctx.clearRect(0, 0, p.w, p.h);
  var all = explorerView.pts.concat(explorerView.over);
  var log = state.axis === "log";
  var xe = extent(all.map(function (q) { return q.e * 1e3; }), log, log ? 0.04 : 0.03);
  if (!log) xe[0] = Math.max(0, xe[0]);
  var ye = extent(all.map(function (q) { return q.a; }), false, 0.04);
  var xs = new Scale(xe[0], xe[1], p.m.l, p.m.l + p.pw, log);
  var ys = new Scale(ye[0], ye[1], p.m.t + p.ph, p.m.t, false);
  p.clip();
  drawBands(p, xs, ys);
  ctx.restore();
  p.axes(xs, ys, "Energy per image (mJ, " + state.axis + ")", "Top-1 accuracy (%), " + state.ts.join(" + "));
  p.clip();
  // threshold lines
  ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5; ctx.strokeStyle = "#b00020"; ctx.fillStyle = "#b00020";
  ctx.font = "11px system-ui, sans-serif";
  if (state.amin !== null) {
    var ya = ys.px(state.amin);
    ctx.beginPath(); ctx.moveTo(p.m.l, ya); ctx.lineTo(p.m.l + p.pw, ya); ctx.stroke();
    ctx.textAlign = "left"; ctx.textBaseline = "bottom"; ctx.fillText("min accuracy " + state.amin + "%", p.m.l + 4, ya - 2);
  }
  if (state.emax !== null && state.emax > 0) {
    var xm = xs.px(state.emax);
    ctx.beginPath(); ctx.moveTo(xm, p.m.t); ctx.lineTo(xm, p.m.t + p.ph); ctx.stroke();
    ctx.textAlign = "right"; ctx.textBaseline = "top"; ctx.fillText("max energy " + state.emax + " mJ", xm - 3, p.m.t + 3);
  }
  ctx.setLineDash([]);
  var n = all.length, hx = new Float32Array(n), hy = new Float32Array(n);
  // faded: outside the thresholds
  ctx.fillStyle = "rgba(120,128,136,0.35)";
  explorerView.pts.forEach(function (q, k) {
    hx[k] = xs.px(q.e * 1e3); hy[k] = ys.px(q.a);
    if (!q.ok) { ctx.beginPath(); ctx.arc(hx[k], hy[k], 2.2, 0, 6.2832); ctx.fill(); }
  });
  // coloured by type, one path per type
  dataset.types.forEach(function (t, ti) {
    ctx.fillStyle = TYPE_COLORS[ti % TYPE_COLORS.length];
    ctx.globalAlpha = 0.75;
    ctx.beginPath();
    explorerView.pts.forEach(function (q, k) {
      if (q.ok && dataset.type[q.i] === ti) { ctx.moveTo(hx[k] + 3, hy[k]); ctx.arc(hx[k], hy[k], 3, 0, 6.2832); }
    });
    ctx.fill();
  });
  ctx.globalAlpha = 1;
  // overlay setup: hollow diamonds
  var base = explorerView.pts.length;
  explorerView.over.forEach(function (q, k) {
    var x = xs.px(q.e * 1e3), y = ys.px(q.a);
    hx[base + k] = x; hy[base + k] = y;
    ctx.strokeStyle = typeColor(q.i); ctx.lineWidth = 1.6;
    ctx.beginPath(); ctx.moveTo(x, y - 5); ctx.lineTo(x + 5, y); ctx.lineTo(x, y + 5); ctx.lineTo(x - 5, y); ctx.closePath(); ctx.stroke();
  });
  // Pareto frontier
  if (explorerView.frontier.length > 1) {
    ctx.strokeStyle = "#1d2329"; ctx.lineWidth = 1.5;
    ctx.beginPath();
    explorerView.frontier.forEach(function (q, k) {
      var x = xs.px(q.e * 1e3), y = ys.px(q.a);
      if (k === 0) ctx.moveTo(x, y); else { ctx.lineTo(x, ys.px(explorerView.frontier[k - 1].a)); ctx.lineTo(x, y); }
    });
    ctx.stroke();
  }
  // readings that fail a consistency check: orange square
  ctx.strokeStyle = "#d97706"; ctx.lineWidth = 1.4;
  explorerView.pts.forEach(function (q, k) {
    if (explorerView.setup.flag[q.i]) ctx.strokeRect(hx[k] - 4.5, hy[k] - 4.5, 9, 9);
  });
  // top-ranked: ring
  ctx.strokeStyle = "#1d2329"; ctx.lineWidth = 1.2;
  explorerView.ranking.forEach(function (q) {
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
      var label = dataset.name[q.i].slice(0, 48);
      var tw = ctx.measureText(label).width;
      ctx.fillRect(x + 7, y - 18, tw + 4, 14);
      ctx.fillStyle = "#7a0000"; ctx.fillText(label, x + 9, y - 5);
    }
  });
  ctx.restore();
  hit.explorer = { x: hx, y: hy, pts: all, xs: xs, ys: ys };
  drawLegend();
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
  typeLegend(lg);
  var s = explorerView.setup;
  var txt = (s ? s.id : "no setup") + ": " + explorerView.elig.length + " ranked of " + explorerView.pts.length + " shown";
  if (explorerView.missingAcc) txt += ", " + explorerView.missingAcc + " without accuracy on " + state.ts.join(" + ");
  if (explorerView.over.length) txt += "; \u25C7 " + explorerView.overlay.id + " (" + explorerView.over.length + ")";
  if (s && s.simulated) txt += "; SIMULATED numbers";
  var flagged = explorerView.pts.filter(function (q) { return s && s.flag[q.i]; }).length;
  if (flagged) txt += "; orange squares: " + flagged + " reading(s) failing a consistency check (hover for why)";
  txt += ". Line: Pareto frontier; shading: score (darker = better); rings: top " + state.top + ".";
  lg.appendChild(el("span", null, txt));
}
