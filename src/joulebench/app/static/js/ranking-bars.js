/* The ranking beside the scatter: bars scaled to the spread of the shown scores, names linking to the model
 * panel, and the score's formula with its N. */
// Decimals enough to tell neighbouring scores apart (91.2 vs 91.23), at most 4.
function scoreDecimals(scores) {
  var gap = Infinity;
  for (var k = 1; k < scores.length; k++) { var d = Math.abs(scores[k - 1] - scores[k]); if (d > 0 && d < gap) gap = d; }
  var mag = Math.max.apply(null, scores.map(function (v) { return Math.abs(v); }).concat([1e-9]));
  var need = gap === Infinity ? 1 : Math.ceil(-Math.log10(gap)) + 0;
  var base = Math.max(0, 2 - Math.floor(Math.log10(mag)));
  return Math.max(0, Math.min(4, Math.max(base, need)));
}
function drawBars() {
  var ol = $("bars");
  var rk = explorerView.ranking;
  var scores = rk.map(function (q) { return q.score; });
  var hi = Math.max.apply(null, scores.concat([-Infinity])), lo = Math.min.apply(null, scores.concat([Infinity]));
  var dec = scoreDecimals(scores);
  setText($("bars-title"), "Top " + rk.length + " by " + (state.score === "apj" ? "accuracy per mJ" : "weighted Manhattan (W=" + state.w.toFixed(2) + ")"));
  var base = encodeState().replace(/&m=[^&]*/, "");
  // what the bars show; rebuilt only when that changes (a change of carbon price or currency moves only the links)
  var rows = rk.map(function (q) {
    var why = suspectNote(explorerView.setup, q.i);
    return { q: q, cls: (q.hit ? "hit" : "") + (why ? " suspect" : ""), name: dataset.name[q.i] + " @" + dataset.img[q.i],
      title: dataset.name[q.i] + " \u2013 " + fmt(q.a, 4) + "%, " + fmt(q.e * 1e3, 3) + " mJ" + (why ? "\n" + why : ""),
      // from the lowest shown score (a tenth of the width) to the best: equal-looking scores look different
      width: (hi > lo ? 10 + 90 * (q.score - lo) / (hi - lo) : 100) + "%", color: typeColor(q.i), val: q.score.toFixed(dec) };
  });
  var empty = rk.length ? "" : emptyReason() || "No model passes the thresholds: lower the minimum accuracy or raise the maximum energy.";
  var key = JSON.stringify(rows.map(function (r) { return [r.q.i, r.cls, r.name, r.title, r.width, r.color, r.val]; })) + empty;
  if (ol.dataset.key !== key) {
    ol.dataset.key = key;
    clear(ol);
    rows.forEach(function (r, k) { ol.appendChild(barItem(r, k)); });
    if (empty) ol.appendChild(el("li", "empty", empty));
  }
  ol.querySelectorAll("a.model-link").forEach(function (a) {
    var href = modelHref(base, Number(a.dataset.i));
    if (a.getAttribute("href") !== href) a.href = href;
  });
  setText($("bars-scale"), rk.length > 1
    ? "Bars run from the lowest shown score (" + lo.toFixed(dec) + ") to the best (" + hi.toFixed(dec) + "), not from zero." : "");
  drawFormula();
}
function barItem(r, k) {
  var li = el("li", r.cls);
  li.appendChild(el("span", "rank", k + 1));
  var mid = el("div");
  var nm = el("a", "name model-link", r.name);
  nm.dataset.i = String(r.q.i);
  nm.title = r.title;
  mid.appendChild(nm);
  var bar = el("div", "bar");
  bar.style.width = r.width;
  bar.style.background = r.color;
  mid.appendChild(bar);
  li.appendChild(mid);
  li.appendChild(el("span", "val", r.val));
  return li;
}
function drawFormula() {
  var v = explorerView, p = $("score-formula");
  var ts = state.ts.join(" + ") || "no test set", code, text;
  if (state.score === "apj") {
    code = "score = (A \u2212 A_min) / E";
    text = " in accuracy points per mJ; A = top-1 % on " + ts + ", E = mJ per image, A_min = " +
      (v.amin === null ? "0" : fmt(v.amin, 4)) + " %" + (v.aminDefault ? " (default: the median accuracy of the shown models; set Min accuracy to change it)" : "") +
      ". Ranked: N = " + v.elig.length + " models.";
  } else {
    code = "score = 100 \u2212 (W\u00b7100\u00b7E/N + (1\u2212W)\u00b7(100\u2212A))";
    text = " with W = " + state.w.toFixed(2) + ", A = top-1 % on " + ts + ", E = mJ per image, N = " +
      fmt(v.N * 1e3, 4) + " mJ: the largest energy among the " + v.elig.length + " ranked models.";
  }
  if (p.dataset.key === code + text) return;
  p.dataset.key = code + text;
  clear(p);
  p.appendChild(el("code", null, code));
  p.appendChild(document.createTextNode(text));
}
