/* Rendering and the timing of every control change (read by benchmarks/app_perf.py). */
function timed(name, fn) {
  var t = performance.now();
  fn();
  jb.timings.parts[name] = performance.now() - t;
}
function renderExplorer() {
  timed("compute", compute); timed("scatter", drawScatter); timed("bars", drawBars); drawTableSoon("explorer"); timed("panel", renderPanel);
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
  setText($("search-count"), q ? n + " model" + (n === 1 ? "" : "s") + " match" + (n === 1 ? "es" : "") : "");
}

/* A table below the charts, while scrolled out of view, is brought up to date right after the frame that
 * shows the change: a person waits only for what is on screen (scatter, ranking). In view it is drawn at once.
 * Whatever reads a table (download, the test hook) brings it up to date first. */
var deferredTables = {
  explorer: { box: "#view-explorer .table-box", draw: function () { drawTable(); }, inView: true, due: false,
    head: function () { tableHead("table", TABLE_COLS, state.sort, state.dir, sortExplorer); } },
  compare: { box: "#view-compare .table-box", draw: function () { drawCmpTable(); }, inView: true, due: false,
    head: function () { tableHead("cmp-table", CMP_COLS, state.csort, state.cdir, sortCompare); } }
};
function watchTables() {
  if (!window.IntersectionObserver) return;
  Object.keys(deferredTables).forEach(function (which) {
    var t = deferredTables[which];
    t.inView = false; // until the observer says otherwise: the first render draws the charts, then the table
    new IntersectionObserver(function (entries) {
      t.inView = entries[entries.length - 1].isIntersecting;
      if (t.inView) flushTable(which);
    }).observe(document.querySelector(t.box));
  });
}
function drawTableSoon(which) {
  var t = deferredTables[which];
  if (t.inView) { t.due = false; timed(which + " table", t.draw); return; }
  t.head();
  if (t.due) return;
  t.due = true;
  jb.pending = true;
  afterFirstFrame(function () { flushTable(which); });
}
function flushTable(which) {
  var t = deferredTables[which];
  if (t.due) { t.due = false; timed(which + " table", t.draw); }
  refreshPending();
}
// Whether drawing is still owed (a table out of view, the families list at start-up): tests wait for none.
function refreshPending() {
  jb.pending = deferredTables.explorer.due || deferredTables.compare.due || !familiesFilled;
}
// fn runs after the next frame and after the task that records that frame's time (changed, the first render), so
// its work is not counted in a frame it does not delay on screen.
function afterFirstFrame(fn) {
  requestAnimationFrame(function () { setTimeout(function () { setTimeout(fn, 0); }, 0); });
}
