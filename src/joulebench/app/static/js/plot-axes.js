/* A canvas plot with margins, linear/log scales, ticks and axes. */
function Plot(canvas) {
  this.c = canvas;
  this.ctx = canvas.getContext("2d");
  this.m = { l: 58, r: 14, t: 12, b: 40 };
}
/* The box is measured once and again only after a resize or a change of view (forget()): measuring in the
 * middle of a redraw forces the browser to lay out the page an extra time per control change. */
Plot.prototype.forget = function () { this.box = null; };
Plot.prototype.size = function () {
  if (!this.box || !this.box.width) this.box = this.c.parentNode.getBoundingClientRect();
  var r = this.box;
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
  if (this.log && this.fhi - this.flo >= 1) {
    var k0 = Math.floor(this.flo), k1 = Math.ceil(this.fhi);
    var mult = k1 - k0 <= 1 ? [1, 2, 3, 5, 7] : k1 - k0 <= 4 ? [1, 2, 5] : [1];
    for (var k = k0; k <= k1; k++) {
      mult.forEach(function (m) { out.push(m * Math.pow(10, k)); });
    }
    var lo = this.lo, hi = this.hi;
    return out.filter(function (v) { return v >= lo * 0.999 && v <= hi * 1.001; });
  }
  // linear steps, also on a log axis zoomed to less than a decade (where 1-2-5 ticks would leave one or two)
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
  if (v === 0) return "0";
  if (Math.abs(v) >= 1e6 || Math.abs(v) < 0.01) return v.toExponential(0);
  if (v >= 1000) return plainNumber(v);
  return String(Number(v.toPrecision(3)));
}
Plot.prototype.axes = function (xs, ys, xlabel, ylabel) {
  var ctx = this.ctx, m = this.m;
  ctx.strokeStyle = "#e3e6ea"; ctx.fillStyle = "#4a545e"; ctx.lineWidth = 1;
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  var right = -Infinity; // a label that would touch the previous one is left out (narrow plots), its grid line stays
  xs.ticks().forEach(function (v) {
    var x = Math.round(xs.px(v)) + 0.5, label = tickLabel(v), w = ctx.measureText(label).width;
    ctx.beginPath(); ctx.moveTo(x, m.t); ctx.lineTo(x, m.t + this.ph); ctx.stroke();
    if (x - w / 2 > right + 6) { ctx.fillText(label, x, m.t + this.ph + 4); right = x + w / 2; }
  }, this);
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  var top = Infinity;
  ys.ticks().forEach(function (v) {
    var y = Math.round(ys.px(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(m.l, y); ctx.lineTo(m.l + this.pw, y); ctx.stroke();
    if (y < top - 13) { ctx.fillText(tickLabel(v), m.l - 4, y); top = y; }
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
// An empty plot: a framed area with the reason in words instead of meaningless axes.
Plot.prototype.message = function (text) {
  var ctx = this.ctx, m = this.m;
  ctx.strokeStyle = "#c6ccd3"; ctx.setLineDash([4, 4]); ctx.lineWidth = 1;
  ctx.strokeRect(m.l + 0.5, m.t + 0.5, this.pw, this.ph);
  ctx.setLineDash([]);
  ctx.fillStyle = "#4a545e"; ctx.font = "14px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
  // wrap the words to the plot's width
  var words = String(text).split(" "), lines = [], line = "";
  words.forEach(function (wd) {
    var t = line ? line + " " + wd : wd;
    if (ctx.measureText(t).width > this.pw - 40 && line) { lines.push(line); line = wd; } else line = t;
  }, this);
  if (line) lines.push(line);
  var y0 = m.t + this.ph / 2 - (lines.length - 1) * 10;
  lines.forEach(function (l, k) { ctx.fillText(l, m.l + this.pw / 2, y0 + k * 20); }, this);
};
