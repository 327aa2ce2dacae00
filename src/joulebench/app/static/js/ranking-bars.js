/* The ranking bars beside the scatter. */
function drawBars() {
  var ol = $("bars");
  clear(ol);
  var max = 0;
  explorerView.ranking.forEach(function (q) { if (q.score > max) max = q.score; });
  $("bars-title").textContent = "Top " + explorerView.ranking.length + " by " + (state.score === "apj" ? "accuracy per mJ" : "weighted Manhattan (W=" + state.w.toFixed(2) + ")");
  explorerView.ranking.forEach(function (q, k) {
    var why = suspectNote(explorerView.setup, q.i);
    var li = el("li", (q.hit ? "hit" : "") + (why ? " suspect" : ""));
    li.appendChild(el("span", "rank", k + 1));
    var mid = el("div");
    var nm = el("div", "name", dataset.name[q.i] + " @" + dataset.img[q.i]);
    nm.title = dataset.name[q.i] + " \u2013 " + fmt(q.a, 4) + "%, " + fmt(q.e * 1e3, 3) + " mJ" + (why ? "\n" + why : "");
    mid.appendChild(nm);
    var bar = el("div", "bar");
    bar.style.width = (max > 0 ? Math.max(2, 100 * q.score / max) : 0) + "%";
    bar.style.background = typeColor(q.i);
    mid.appendChild(bar);
    li.appendChild(mid);
    li.appendChild(el("span", "val", fmt(q.score, 3)));
    ol.appendChild(li);
  });
  if (!explorerView.ranking.length) ol.appendChild(el("li", null, "No model passes the filters and thresholds."));
}
