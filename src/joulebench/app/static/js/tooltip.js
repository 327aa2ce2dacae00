/* Hover and click on the plots: the nearest point within a radius, its tooltip; a click opens its model panel. */
var HOVER_RADIUS_PX = 12;
// The index of the nearest point within HOVER_RADIUS_PX of (mx, my) inside the plot area, or -1; h.near counts
// the other points within 2 px of it (drawn on top of each other: zooming in separates them).
function nearest(h, mx, my) {
  if (!h || !h.x) return -1;
  var m = h.plot ? h.plot.m : null;
  if (m && (mx < m.l - 4 || mx > m.l + h.plot.pw + 4 || my < m.t - 4 || my > m.t + h.plot.ph + 4)) return -1;
  var best = -1, bd = HOVER_RADIUS_PX * HOVER_RADIUS_PX;
  for (var k = 0; k < h.x.length; k++) {
    var dx = h.x[k] - mx, dy = h.y[k] - my, d = dx * dx + dy * dy;
    if (d < bd) { bd = d; best = k; }
  }
  h.near = 0;
  if (best >= 0) {
    for (var j = 0; j < h.x.length; j++) {
      if (j !== best && Math.abs(h.x[j] - h.x[best]) < 2 && Math.abs(h.y[j] - h.y[best]) < 2) h.near++;
    }
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
  tip.appendChild(el("div", "t-name", dataset.name[i]));
  tipRow(tip, "input size", dataset.img[i] ? dataset.img[i] + " px" : "\u2013");
  tipRow(tip, "type / family", dataset.types[dataset.type[i]] + " / " + dataset.families[dataset.family[i]]);
  if (which === "explorer") {
    var s = q.overlay ? explorerView.overlay : explorerView.setup;
    tipRow(tip, "setup", s.id);
    tipRow(tip, "accuracy", fmt(q.a, 4) + " % (" + state.ts.join(" + ") + ")");
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
    tipRow(tip, "\u2026 at " + fmt(state.ci, 3) + " g/kWh", fmt(pm.co2_g, 3) + " g CO2e");
    tipRow(tip, "\u2026 at " + fmt(state.price, 3) + " " + state.cur + "/kWh", fmt(pm.cost, 3) + " " + state.cur);
    if (isFinite(s.ci[i])) tipRow(tip, "95 % CI of energy", pct(s.ci[i]));
    if (s.simulated) tip.appendChild(el("div", "t-note", "simulated numbers (meter sim)"));
    if (s.flag[i]) tip.appendChild(el("div", "t-warn", suspectNote(s, i)));
  } else {
    tipRow(tip, "A " + comparison.a.id, fmt(q.ea * 1e3, 4) + " mJ/img");
    tipRow(tip, "B " + comparison.b.id, fmt(q.eb * 1e3, 4) + " mJ/img");
    tipRow(tip, "reduction A/B", fmt(q.ea / q.eb, 3) + "\u00d7");
    suspectSides(i).forEach(function (t) { tip.appendChild(el("div", "t-warn", t)); });
  }
  tipRow(tip, "params", dataset.params[i] === null ? "\u2013" : fmt(dataset.params[i] / 1e6, 3) + " M");
  tipRow(tip, "GMACs", dataset.macs[i] === null ? "\u2013" : fmt(dataset.macs[i] / 1e9, 3));
  tipRow(tip, "year", dataset.year[i] === null ? "\u2013" : String(dataset.year[i]));
  if (hit[which].near) tip.appendChild(el("div", "t-note", hit[which].near + " more point(s) here: zoom in (wheel) to separate them"));
  tip.appendChild(el("div", "t-note", "click: everything known about this model, on every setup"));
  tip.hidden = false;
  var w = tip.offsetWidth, h = tip.offsetHeight;
  var x = cx + 14, y = cy + 14;
  if (x + w > window.innerWidth - 4) x = cx - w - 14;
  if (y + h > window.innerHeight - 4) y = Math.max(4, cy - h - 14);
  tip.style.left = x + "px"; tip.style.top = y + "px";
  jb.tooltip = { which: which, model: dataset.name[i], img: dataset.img[i] };
}
function hideTip() { $("tooltip").hidden = true; jb.tooltip = null; }
function attachHover(canvas, which) {
  canvas.addEventListener("mousemove", function (ev) {
    if (drag.active) return;
    var r = canvas.getBoundingClientRect();
    var k = nearest(hit[which], ev.clientX - r.left, ev.clientY - r.top);
    if (k < 0) { hideTip(); canvas.style.cursor = which === "explorer" ? "grab" : "crosshair"; return; }
    canvas.style.cursor = "pointer";
    showTip(which, k, ev.clientX, ev.clientY);
  });
  canvas.addEventListener("mouseleave", hideTip);
  canvas.addEventListener("click", function (ev) {
    if (drag.moved) { drag.moved = false; return; } // the end of a pan or a box, not a click on a point
    var r = canvas.getBoundingClientRect();
    var k = nearest(hit[which], ev.clientX - r.left, ev.clientY - r.top);
    if (k < 0) return;
    var q = hit[which].pts[k];
    openPanel(q.i);
  });
}
