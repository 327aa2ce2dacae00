/* The model panel (a click on a point, a ranking bar or a table row): everything known about one model
 * configuration on every setup and, where joulebench measured it, how the result was reached: the batch curve
 * (energy per image, throughput and average power against batch, with the power limit) and the 95 %
 * confidence interval of each reading. */
function openPanel(i) {
  state.model = dataset.name[i] + "@" + dataset.img[i];
  changed("panel", function () { renderPanel(); renderScatter(); });
  $("panel-close").focus({ preventScroll: true }); // at the panel's top, in view: no layout forced to scroll to it
}
function closePanel() {
  var was = state.model;
  state.model = "";
  changed("panel close", function () { renderPanel(); renderScatter(); });
  // back to where the user was: the link of that model if it is on the page, else the scatter
  var back = was && document.querySelector("a.model-link[data-i='" + dataset.keyIndex[was] + "']");
  (back || $("scatter")).focus();
}
function factRow(tbody, key, value) {
  var tr = el("tr");
  tr.appendChild(el("th", null, key));
  tr.appendChild(el("td", null, value));
  tbody.appendChild(tr);
}
function smallTable(cls, head) {
  var t = el("table", cls), tr = el("tr");
  head.forEach(function (h) { var th = el("th", null, h); th.scope = "col"; tr.appendChild(th); });
  t.appendChild(el("thead")).appendChild(tr);
  t.appendChild(el("tbody"));
  return t;
}
function addRow(t, cells, cls) {
  var tr = el("tr", cls || null);
  cells.forEach(function (c) { tr.appendChild(el("td", null, c)); });
  t.tBodies[0].appendChild(tr);
  return tr;
}
// a relative 95 % interval as ±x %, flagged when wider than the store's threshold (joulebench results does too)
function pct(v) { return isFinite(v) ? "\u00b1" + fmt(100 * v, 2) + " %" + (v > dataset.ciWide ? " (wide)" : "") : "\u2013"; }

function renderPanel() {
  var box = $("panel"), body = $("panel-body");
  var i = state.model ? dataset.keyIndex[state.model] : undefined;
  jb.panelModel = i === undefined ? null : { model: dataset.name[i], img: dataset.img[i] };
  if (i === undefined) { box.hidden = true; document.body.classList.remove("panel-open"); return; }
  box.hidden = false;
  document.body.classList.add("panel-open");
  $("panel-title").textContent = dataset.name[i] + (dataset.img[i] ? " @ " + dataset.img[i] + " px" : "");
  clear(body);
  var facts = el("table", "facts"), tb = el("tbody");
  facts.appendChild(tb);
  factRow(tb, "type / family", dataset.types[dataset.type[i]] + " / " + dataset.families[dataset.family[i]]);
  factRow(tb, "year", dataset.year[i] === null ? "\u2013" : String(dataset.year[i]));
  factRow(tb, "parameters", dataset.params[i] === null ? "\u2013" : fmt(dataset.params[i] / 1e6, 4) + " M");
  factRow(tb, "MACs per image", dataset.macs[i] === null ? "\u2013" : fmt(dataset.macs[i] / 1e9, 4) + " G");
  body.appendChild(facts);
  if (dataset.url[i] && /^https?:\/\//i.test(dataset.url[i])) {
    var a = el("a", "ext", "Model page (weights, licence, card) \u2197");
    a.href = dataset.url[i]; a.target = "_blank"; a.rel = "noopener noreferrer"; a.id = "panel-url";
    body.appendChild(el("p")).appendChild(a);
  }
  body.appendChild(el("h3", null, "Accuracy (top-1 %)"));
  var acc = smallTable("mini", ["test set", "top-1 %"]);
  dataset.testsets.forEach(function (t) { addRow(acc, [t, fmt(dataset.acc[t][i], 4)]); });
  body.appendChild(acc);
  panelSetups(body, i);
  panelCurves(body, i);
}
function panelSetups(body, i) {
  body.appendChild(el("h3", null, "On every setup"));
  var t = smallTable("mini setups", ["setup", "mJ/img", "95 % CI", "img/s", "latency ms", "batch", "avg power W", "of limit"]);
  var n = 0;
  dataset.setups.forEach(function (s) {
    if (!(s.e[i] > 0)) return;
    n++;
    var pw = s.e[i] * s.tp[i];
    var tags = (s.source === "joulebench" && !s.uploaded ? " (own)" : "") + (s.simulated ? " SIMULATED" : "") + (s.uploaded ? " (uploaded)" : "");
    var tr = addRow(t, [s.id + tags, fmt(s.e[i] * 1e3, 4), pct(s.ci[i]), fmt(s.tp[i], 4), fmt(s.lat[i] * 1e3, 3), fmt(s.bs[i], 6),
      fmt(pw, 3), isFinite(pw / s.limit) ? Math.round(100 * pw / s.limit) + " %" : "\u2013"], s.id === state.setup ? "current" : null);
    if (s.flag[i]) { tr.className += " suspect"; tr.title = suspectNote(s, i); }
  });
  body.appendChild(n ? t : el("p", "hint", "No energy reading of this model in any setup."));
  if (n) body.appendChild(el("p", "hint", "Average power = energy per image \u00d7 throughput. The 95 % confidence interval is known for joulebench's own readings (the spread of the energy over sub-windows)."));
}
function panelCurves(body, i) {
  var any = false;
  dataset.setups.forEach(function (s) {
    var c = s.curves[i];
    if (!c || !c.bs.length) return;
    any = true;
    body.appendChild(el("h3", null, "How it was measured on " + s.id + ": energy, throughput and power against batch"));
    var wrap = el("div", "curve-wrap");
    var cv = el("canvas", "batch-curve");
    cv.setAttribute("role", "img");
    cv.setAttribute("aria-label", "Batch curve of " + dataset.name[i] + " on " + s.id + "; the table below lists the same readings");
    cv.dataset.setup = s.id;
    wrap.appendChild(cv);
    body.appendChild(wrap);
    drawBatchCurve(cv, c, s.limit, s.bs[i]);
    var det = el("details");
    det.appendChild(el("summary", null, c.bs.length + " readings (batch, energy with its 95 % CI, throughput, power)"));
    var t = smallTable("mini", ["batch", "mJ/img", "95 % CI", "img/s", "avg power W"]);
    c.bs.forEach(function (b, k) {
      addRow(t, [String(b), fmt(c.e[k] * 1e3, 4), pct(c.ci[k]), fmt(c.tp[k], 4), fmt(c.pw[k], 4)], b === s.bs[i] ? "current" : null);
    });
    det.appendChild(t);
    body.appendChild(det);
  });
  if (!any) {
    body.appendChild(el("p", "hint", "No batch curve: joulebench has not measured this model itself. The reference data gives one reading per setup (at its optimal batch); measure it with `joulebench measure` to see how energy, throughput and power change with batch."));
  }
}

/* Three stacked plots sharing a log batch axis: energy per image (log, with its 95 % CI as error bars), throughput,
 * and average power with the power limit dashed. The kept (optimal) batch is ringed. */
function drawBatchCurve(canvas, c, limit, keptBs) {
  var dpr = window.devicePixelRatio || 1;
  var w = Math.max(280, Math.floor(canvas.parentNode.getBoundingClientRect().width)), ph = 96, gap = 22, top = 8, bottom = 34, left = 58;
  var h = top + 3 * ph + 2 * gap + bottom;
  canvas.width = w * dpr; canvas.height = h * dpr;
  canvas.style.width = w + "px"; canvas.style.height = h + "px";
  var ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  var bmin = Math.min.apply(null, c.bs), bmax = Math.max.apply(null, c.bs);
  var xs = new Scale(bmin / 1.3, bmax * 1.3, left, w - 12, true);
  var series = [
    { label: "mJ/img (log)", v: c.e.map(function (e) { return e * 1e3; }), err: c.ci, color: "#0b5cad", log: true },
    { label: "img/s", v: c.tp, color: "#009E73" },
    { label: "W", v: c.pw, color: "#D55E00", limit: limit }
  ];
  series.forEach(function (sr, k) {
    var y0 = top + k * (ph + gap);
    var vals = sr.v.filter(isFinite);
    if (sr.err) sr.v.forEach(function (v, j) { if (isFinite(sr.err[j])) vals.push(v * (1 + sr.err[j]), v * (1 - sr.err[j])); });
    if (isFinite(sr.limit)) vals.push(sr.limit);
    var ye = extent(vals.length ? vals : [0, 1], !!sr.log, 0.08);
    var ys = new Scale(sr.log ? ye[0] : Math.max(0, ye[0]), ye[1], y0 + ph, y0, !!sr.log);
    miniAxes(ctx, xs, ys, left, y0, w - 12 - left, ph, sr.label, k === 2);
    if (isFinite(sr.limit)) {
      ctx.setLineDash([5, 4]); ctx.strokeStyle = "#b00020"; ctx.lineWidth = 1.2;
      ctx.beginPath(); ctx.moveTo(left, ys.px(sr.limit)); ctx.lineTo(w - 12, ys.px(sr.limit)); ctx.stroke(); ctx.setLineDash([]);
      ctx.fillStyle = "#b00020"; ctx.font = "10px system-ui, sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "bottom";
      ctx.fillText("power limit " + fmt(sr.limit, 3) + " W", left + 4, ys.px(sr.limit) - 1);
    }
    ctx.strokeStyle = sr.color; ctx.fillStyle = sr.color; ctx.lineWidth = 1.5;
    ctx.beginPath();
    var started = false;
    c.bs.forEach(function (b, j) {
      if (!isFinite(sr.v[j])) return;
      var x = xs.px(b), y = ys.px(sr.v[j]);
      if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
    });
    ctx.stroke();
    c.bs.forEach(function (b, j) {
      if (!isFinite(sr.v[j])) return;
      var x = xs.px(b), y = ys.px(sr.v[j]);
      if (sr.err && isFinite(sr.err[j])) {
        var lo = ys.px(sr.v[j] * (1 - sr.err[j])), hi = ys.px(sr.v[j] * (1 + sr.err[j]));
        ctx.beginPath(); ctx.moveTo(x, lo); ctx.lineTo(x, hi); ctx.moveTo(x - 3, lo); ctx.lineTo(x + 3, lo); ctx.moveTo(x - 3, hi); ctx.lineTo(x + 3, hi); ctx.stroke();
      }
      ctx.beginPath(); ctx.arc(x, y, 2.6, 0, 6.2832); ctx.fill();
      if (b === keptBs) { ctx.beginPath(); ctx.arc(x, y, 6, 0, 6.2832); ctx.stroke(); }
    });
  });
  ctx.fillStyle = "#1d2329"; ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  ctx.fillText("batch size (log); ring: the batch kept (least energy per image)", left + (w - 12 - left) / 2, h - 1);
}
function miniAxes(ctx, xs, ys, left, y0, pw, ph, label, xLabels) {
  ctx.strokeStyle = "#e3e6ea"; ctx.fillStyle = "#4a545e"; ctx.lineWidth = 1; ctx.font = "10px system-ui, sans-serif";
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  ys.ticks().filter(function (_, k, a) { return a.length < 6 || k % 2 === 0; }).forEach(function (v) {
    var y = Math.round(ys.px(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + pw, y); ctx.stroke();
    ctx.fillText(tickLabel(v), left - 4, y);
  });
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  var right = -Infinity;
  for (var b = 1; b <= xs.hi; b *= 2) { // powers of two: the batch sizes joulebench tries
    if (b < xs.lo) continue;
    var x = Math.round(xs.px(b)) + 0.5, lab = String(b), tw = ctx.measureText(lab).width;
    ctx.beginPath(); ctx.moveTo(x, y0); ctx.lineTo(x, y0 + ph); ctx.stroke();
    if (xLabels && x - tw / 2 > right + 4) { ctx.fillText(lab, x, y0 + ph + 3); right = x + tw / 2; }
  }
  ctx.strokeStyle = "#8a949e"; ctx.strokeRect(left + 0.5, y0 + 0.5, pw, ph);
  ctx.save(); ctx.translate(12, y0 + ph / 2); ctx.rotate(-Math.PI / 2);
  ctx.fillStyle = "#1d2329"; ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
  ctx.fillText(label, 0, 0); ctx.restore();
}
