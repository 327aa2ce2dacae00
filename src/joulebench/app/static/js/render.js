/* Rendering and the timing of every control change (read by benchmarks/app_perf.py). */
function timed(name, fn) {
  var t = performance.now();
  fn();
  jb.timings.parts[name] = performance.now() - t;
}
function renderExplorer() {
  timed("compute", compute); timed("scatter", drawScatter); timed("bars", drawBars); drawTableSoon(); timed("panel", renderPanel);
  searchCount();
}
function renderCompare() { timed("compare", computeCompare); timed("compare draw", drawCompare); }
function renderAll() {
  // the explorer's result is always computed: the test hook and the table read it on either view
  if (state.view === "explorer") renderExplorer(); else { compute(); renderCompare(); renderPanel(); searchCount(); }
}
/* Every control change goes through here: it times the synchronous work and the next frame, and exposes
 * the numbers on window.__jb for the benchmark (benchmarks/app_perf.py). */
function changed(what, fn) {
  var t0 = performance.now();
  (fn || renderAll)();
  writeUrl();
  var t1 = performance.now();
  var rec = { control: what, sync_ms: t1 - t0, frame_ms: NaN };
  jb.timings.changes.push(rec);
  if (jb.timings.changes.length > 200) jb.timings.changes.shift();
  jb.timings.last = rec;
  requestAnimationFrame(function () { setTimeout(function () { rec.frame_ms = performance.now() - t0; jb.timings.settled = jb.timings.changes.length; }, 0); });
}
// The count of matches beside the search box (models shown in the current view).
function searchCount() {
  var q = state.q.trim();
  var n = state.view === "explorer" ? explorerView.pts.length : comparison ? comparison.rows.length : 0;
  $("search-count").textContent = q ? n + " model" + (n === 1 ? "" : "s") + " match" + (n === 1 ? "es" : "") : "";
}

/* The table below the charts, while scrolled out of view, is brought up to date right after the frame that
 * shows the change: a person waits only for what is on screen (scatter, ranking). In view it is drawn at once.
 * Whatever reads the table (download, the test hook) brings it up to date first. */
var tableView = { inView: true, due: false };
function watchTable() {
  if (!window.IntersectionObserver) return;
  new IntersectionObserver(function (entries) {
    tableView.inView = entries[entries.length - 1].isIntersecting;
    if (tableView.inView) flushTable();
  }).observe(document.querySelector("#view-explorer .table-box"));
}
function drawTableSoon() {
  if (tableView.inView) { tableView.due = false; timed("table", drawTable); return; }
  if (tableView.due) return;
  tableView.due = true;
  jb.pending = true;
  // two hops: after the frame, and after the task that records the frame's time (changed), so the table's
  // own work is not counted in the change that it does not delay on screen
  requestAnimationFrame(function () { setTimeout(function () { setTimeout(flushTable, 0); }, 0); });
}
function flushTable() {
  if (!tableView.due) return;
  tableView.due = false;
  timed("table", drawTable);
  jb.pending = false;
}
