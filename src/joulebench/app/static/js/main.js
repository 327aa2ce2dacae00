/* Start-up: load the data, restore the state from the URL, wire the controls, draw. */
function init() {
  var raw = window.JB_DATA;
  if (!raw || !raw.models || !raw.setups) {
    setMsg("No data: data.js is missing or broken. Rebuild with `joulebench app build DIR`.", "error");
    jb.ready = true;
    return;
  }
  jb.timings.start = performance.now(); // app.js parsed: what comes before is the page and data.js
  timed("prepare", function () { prepare(raw); });
  state = decodeState(location.hash);
  timed("controls", function () { buildControls(true); syncControls(); });
  scatter = new Plot($("scatter"));
  cmpPlot = new Plot($("cmp-canvas"));
  attachHover($("scatter"), "explorer");
  attachHover($("cmp-canvas"), "compare");
  attachZoom($("scatter"));
  watchTables();
  // names in the ranking and the tables open the model panel (their href also works in a new tab)
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a.model-link");
    if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
    ev.preventDefault();
    openPanel(Number(a.dataset.i));
  });
  $("panel-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape" && state.model) closePanel(); });

  $("controls").addEventListener("input", function (ev) {
    if (ev.target.id === "upload") return;
    readControls(); pages.explorer = 0; pages.compare = 0;
    changed(ev.target.id || ev.target.dataset.group);
  });
  $("controls").addEventListener("submit", function (ev) { ev.preventDefault(); });
  $("cmp-a").addEventListener("change", function () { readControls(); pages.compare = 0; changed("cmp-a"); });
  $("cmp-b").addEventListener("change", function () { readControls(); pages.compare = 0; changed("cmp-b"); });
  $("families-clear").addEventListener("click", function () { state.fams = []; syncControls(); changed("families-clear"); });
  $("search-clear").addEventListener("click", function () { state.q = ""; syncControls(); changed("search clear"); });
  $("reset").addEventListener("click", function () { var v = state.view; state = defaults(); state.view = v; syncControls(); changed("reset"); });
  $("upload").addEventListener("change", function (ev) { onUpload(ev.target.files && ev.target.files[0]); });
  $("tab-explorer").addEventListener("click", function () { state.view = "explorer"; syncControls(); scatter.forget(); changed("tab"); });
  $("tab-compare").addEventListener("click", function () { state.view = "compare"; syncControls(); cmpPlot.forget(); changed("tab"); });
  $("prev-page").addEventListener("click", function () { pages.explorer--; changed("page", drawTable); });
  $("next-page").addEventListener("click", function () { pages.explorer++; changed("page", drawTable); });
  $("cmp-prev").addEventListener("click", function () { pages.compare--; changed("page", drawCmpTable); });
  $("cmp-next").addEventListener("click", function () { pages.compare++; changed("page", drawCmpTable); });
  $("download").addEventListener("click", function () {
    flushTable("explorer");
    download("joulebench-" + safeFileName(state.setup) + ".csv", TABLE_COLS, explorerView.tableRows, { head: ["setup", "ranked", "suspect"], row: function (q) { return [explorerView.setup.id, q.ok ? 1 : 0, explorerView.setup.flag[q.i] || ""]; } });
  });
  $("cmp-download").addEventListener("click", function () {
    flushTable("compare");
    download("joulebench-compare.csv", CMP_COLS, comparison.tableRows, { head: ["setup_a", "setup_b", "suspect_a", "suspect_b"], row: function (q) { return [comparison.a.id, comparison.b.id, comparison.a.flag[q.i] || "", comparison.b.flag[q.i] || ""]; } });
  });
  window.addEventListener("hashchange", function () {
    if (location.hash === encodeState()) return;
    state = decodeState(location.hash); syncControls(); scatter.forget(); cmpPlot.forget(); changed("hash");
  });
  var pending = false;
  window.addEventListener("resize", function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; scatter.forget(); cmpPlot.forget(); renderAll(); });
  });

  if (!dataset.setups.length) setMsg("This site holds no energy measurements: measure with `joulebench measure`, then rebuild it.", "error");
  renderAll();
  jb.timings.firstRender = performance.now();
  performance.mark("jb-first-render");
  requestAnimationFrame(function () { setTimeout(function () { jb.timings.firstFrame = performance.now(); jb.ready = true; warmSetups(); }, 0); });
}

function start() {
  try {
    init();
  } catch (err) {
    jb.errors.push(String(err && err.stack || err));
    setMsg("The explorer failed to start: " + (err && err.message) + ".", "error");
    jb.ready = true;
    throw err;
  }
}
window.addEventListener("error", function (ev) { jb.errors.push(String(ev.message)); });
// app.js is deferred (it runs once the body is parsed); started any other way, it waits for the body
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
