/* Zoom and pan on the explorer's scatter: the wheel zooms around the pointer, a drag pans, Shift+drag zooms to
 * a box, a double-click resets, "Zoom to thresholds" frames the ranked models. From the keyboard (the scatter
 * takes focus): arrow keys step through the points, Enter opens the model panel, + and - zoom, 0 resets. */
var drag = { active: false, moved: false, box: false, x0: 0, y0: 0, h: null };
var keyFocus = { i: -1, overlay: false }; // the point the keyboard is on (model index), -1 = none
var WHEEL_STEP = 1.0015; // zoom factor per wheel delta unit: one notch (~100) zooms by about 14 %

// Ranges work in the scale's own coordinates (log10 on a log axis) so zoom and pan feel even there.
function toAxis(v, log) { return log ? Math.log10(v) : v; }
function fromAxis(v, log) { return log ? Math.pow(10, v) : v; }

function setZoom(z, what) {
  state.zoom = z;
  changed(what, renderScatter);
}
function zoomAround(px, py, factor) {
  var h = hit.explorer, log = h.xs.log;
  var fx = toAxis(h.xs.inv(px), log), fy = h.ys.inv(py);
  var x0 = toAxis(h.xs.lo, log), x1 = toAxis(h.xs.hi, log);
  setZoom([fromAxis(fx - (fx - x0) * factor, log), fromAxis(fx + (x1 - fx) * factor, log),
    fy - (fy - h.ys.lo) * factor, fy + (h.ys.hi - fy) * factor], "zoom");
}
function panFrom(h, dx, dy) {
  var log = h.xs.log;
  var sx = (toAxis(h.xs.hi, log) - toAxis(h.xs.lo, log)) / (h.xs.b - h.xs.a);
  var sy = (h.ys.hi - h.ys.lo) / (h.ys.a - h.ys.b);
  state.zoom = [fromAxis(toAxis(h.xs.lo, log) - dx * sx, log), fromAxis(toAxis(h.xs.hi, log) - dx * sx, log),
    h.ys.lo + dy * sy, h.ys.hi + dy * sy];
}
// Frame the models that pass the thresholds (the region one decides in), with a small margin.
function zoomToThresholds() {
  var v = explorerView;
  if (!v.elig.length) { setMsg("No model passes the thresholds: nothing to zoom to.", "error"); return; }
  var log = state.axis === "log";
  var xe = extent(v.elig.map(function (q) { return q.e * 1e3; }), log, 0.06);
  var ye = extent(v.elig.map(function (q) { return q.a; }), false, 0.06);
  if (state.emax !== null) xe[1] = Math.max(xe[1], state.emax * (log ? 1.05 : 1.02));
  if (v.amin !== null) ye[0] = Math.min(ye[0], v.amin - 0.5);
  setZoom([log ? xe[0] : Math.max(0, xe[0]), xe[1], ye[0], ye[1]], "zoom to thresholds");
}
function renderScatter() { timed("scatter", drawScatter); }

function attachZoom(canvas) {
  var boxEl = $("zoom-box");
  canvas.addEventListener("wheel", function (ev) {
    if (!hit.explorer || emptyReason()) return;
    ev.preventDefault();
    var r = canvas.getBoundingClientRect();
    zoomAround(ev.clientX - r.left, ev.clientY - r.top, Math.pow(WHEEL_STEP, ev.deltaY));
  }, { passive: false });
  canvas.addEventListener("mousedown", function (ev) {
    if (ev.button !== 0 || !hit.explorer) return;
    var r = canvas.getBoundingClientRect();
    drag = { active: true, moved: false, box: ev.shiftKey, x0: ev.clientX - r.left, y0: ev.clientY - r.top, h: hit.explorer, raf: 0 };
    hideTip();
    ev.preventDefault();
  });
  window.addEventListener("mousemove", function (ev) {
    if (!drag.active) return;
    var r = canvas.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
    if (!drag.moved && Math.abs(x - drag.x0) + Math.abs(y - drag.y0) < 4) return;
    drag.moved = true;
    if (drag.box) {
      boxEl.hidden = false;
      boxEl.style.left = Math.min(x, drag.x0) + "px"; boxEl.style.top = Math.min(y, drag.y0) + "px";
      boxEl.style.width = Math.abs(x - drag.x0) + "px"; boxEl.style.height = Math.abs(y - drag.y0) + "px";
      return;
    }
    canvas.style.cursor = "grabbing";
    panFrom(drag.h, x - drag.x0, y - drag.y0);
    if (!drag.raf) drag.raf = requestAnimationFrame(function () { drag.raf = 0; renderScatter(); });
  });
  window.addEventListener("mouseup", function (ev) {
    if (!drag.active) return;
    drag.active = false;
    boxEl.hidden = true;
    if (!drag.moved) return;
    var r = canvas.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top, h = drag.h;
    if (drag.box) {
      if (Math.abs(x - drag.x0) < 6 || Math.abs(y - drag.y0) < 6) return;
      setZoom([h.xs.inv(Math.min(x, drag.x0)), h.xs.inv(Math.max(x, drag.x0)), h.ys.inv(Math.max(y, drag.y0)), h.ys.inv(Math.min(y, drag.y0))], "box zoom");
    } else {
      panFrom(h, x - drag.x0, y - drag.y0);
      changed("pan", renderScatter);
    }
  });
  canvas.addEventListener("dblclick", function () { setZoom(null, "zoom reset"); });
  canvas.addEventListener("keydown", onScatterKey);
  $("zoom-thresholds").addEventListener("click", zoomToThresholds);
  $("zoom-reset").addEventListener("click", function () { setZoom(null, "zoom reset"); });
}

// Keyboard: step through the points in the view by energy (left/right) or accuracy (up/down).
function onScatterKey(ev) {
  var h = hit.explorer;
  if (!h || !h.pts.length) return;
  var p = h.plot, key = ev.key;
  if (key === "+" || key === "=") zoomAround(p.m.l + p.pw / 2, p.m.t + p.ph / 2, 0.7);
  else if (key === "-" || key === "_") zoomAround(p.m.l + p.pw / 2, p.m.t + p.ph / 2, 1 / 0.7);
  else if (key === "0") setZoom(null, "zoom reset");
  else if (key === "Escape") { keyFocus.i = -1; hideTip(); changed("key", renderScatter); }
  else if (key === "Enter" || key === " ") { if (keyFocus.i >= 0) openPanel(keyFocus.i); }
  else if (/^Arrow/.test(key)) stepFocus(h, key);
  else return;
  ev.preventDefault();
}
function stepFocus(h, key) {
  var inView = [];
  for (var k = 0; k < h.pts.length; k++) {
    if (h.x[k] >= h.plot.m.l && h.x[k] <= h.plot.m.l + h.plot.pw && h.y[k] >= h.plot.m.t && h.y[k] <= h.plot.m.t + h.plot.ph) inView.push(k);
  }
  if (!inView.length) return;
  var byX = key === "ArrowLeft" || key === "ArrowRight";
  inView.sort(function (a, b) { return byX ? h.x[a] - h.x[b] || h.y[b] - h.y[a] : h.y[b] - h.y[a] || h.x[a] - h.x[b]; });
  var at = -1;
  for (var j = 0; j < inView.length; j++) {
    var q = h.pts[inView[j]];
    if (q.i === keyFocus.i && !!q.overlay === keyFocus.overlay) at = j;
  }
  var step = key === "ArrowRight" || key === "ArrowUp" ? 1 : -1;
  var next = at < 0 ? (step > 0 ? 0 : inView.length - 1) : Math.max(0, Math.min(inView.length - 1, at + step));
  var kk = inView[next], pt = h.pts[kk];
  keyFocus.i = pt.i; keyFocus.overlay = !!pt.overlay;
  changed("key", renderScatter);
  var r = $("scatter").getBoundingClientRect();
  showTip("explorer", kk, r.left + h.x[kk], r.top + h.y[kk]);
  $("sr-live").textContent = dataset.name[pt.i] + ": " + fmt(pt.a, 4) + " % accuracy, " + fmt(pt.e * 1e3, 4) + " mJ per image" +
    (explorerView.rank[pt.i] && !pt.overlay ? ", rank " + explorerView.rank[pt.i] : "") + ". Enter opens its details.";
}
