/* The sortable, paged tables of both views and their CSV download. */
// Each column: key (sort key in the URL), label (header, with its unit), csv (download column name, with its unit).
var TABLE_COLS = [
  { key: "model", label: "Model", csv: "model", txt: true, link: true, get: function (q) { return dataset.name[q.i]; },
    note: function (q) { return suspectNote(explorerView.setup, q.i); } },
  { plain: true, key: "img", label: "Size px", csv: "img_px", get: function (q) { return dataset.img[q.i]; } },
  { key: "type", label: "Type", csv: "type", txt: true, get: function (q) { return dataset.types[dataset.type[q.i]]; } },
  { key: "family", label: "Family", csv: "family", txt: true, get: function (q) { return dataset.families[dataset.family[q.i]]; } },
  { key: "acc", label: "Acc %", csv: "accuracy_pct", get: function (q) { return q.a; }, d: 4 },
  { key: "mj", label: "mJ/img", csv: "energy_mj_per_img", get: function (q) { return q.e * 1e3; }, d: 4 },
  { key: "tp", label: "img/s", csv: "throughput_img_per_s", get: function (q) { return explorerView.setup.tp[q.i]; }, d: 4 },
  { key: "lat", label: "Latency ms", csv: "latency_ms", get: function (q) { return explorerView.setup.lat[q.i] * 1e3; }, d: 3 },
  { plain: true, key: "bs", label: "Batch", csv: "batch", get: function (q) { return explorerView.setup.bs[q.i]; } },
  { key: "params", label: "Params M", csv: "params_m", get: function (q) { return dataset.params[q.i] === null ? NaN : dataset.params[q.i] / 1e6; }, d: 3 },
  { key: "gmacs", label: "GMACs", csv: "gmacs", get: function (q) { return dataset.macs[q.i] === null ? NaN : dataset.macs[q.i] / 1e9; }, d: 3 },
  { plain: true, key: "year", label: "Year", csv: "year", get: function (q) { return dataset.year[q.i] === null ? NaN : dataset.year[q.i]; } },
  { key: "score", label: "Score", csv: function () { return state.score === "apj" ? "score_acc_pts_per_mj" : "score_manhattan"; }, get: function (q) { return q.score; }, d: 4 },
  { key: "kwh", label: "kWh/M img", csv: "kwh_per_m_img", get: function (q) { return perMillion(q.e).kwh; }, d: 3 },
  { key: "co2", label: "g CO2e/M img", csv: "co2e_g_per_m_img", get: function (q) { return perMillion(q.e).co2_g; }, d: 3 },
  { key: "cost", label: function () { return state.cur + "/M img"; }, csv: function () { return "cost_" + state.cur.toLowerCase() + "_per_m_img"; },
    get: function (q) { return perMillion(q.e).cost; }, d: 3 }
];
var CMP_COLS = [
  { key: "model", label: "Model", csv: "model", txt: true, link: true, get: function (q) { return dataset.name[q.i]; },
    note: function (q) { return suspectSides(q.i).join("\n"); } },
  { plain: true, key: "img", label: "Size px", csv: "img_px", get: function (q) { return dataset.img[q.i]; } },
  { key: "type", label: "Type", csv: "type", txt: true, get: function (q) { return dataset.types[dataset.type[q.i]]; } },
  { key: "ea", label: "A mJ/img", csv: "a_energy_mj_per_img", get: function (q) { return q.ea * 1e3; }, d: 4 },
  { key: "eb", label: "B mJ/img", csv: "b_energy_mj_per_img", get: function (q) { return q.eb * 1e3; }, d: 4 },
  { key: "factor", label: "A/B", csv: "energy_ratio_a_over_b", get: function (q) { return q.ea / q.eb; }, d: 3 },
  { key: "tpa", label: "A img/s", csv: "a_throughput_img_per_s", get: function (q) { return comparison.a.tp[q.i]; }, d: 4 },
  { key: "tpb", label: "B img/s", csv: "b_throughput_img_per_s", get: function (q) { return comparison.b.tp[q.i]; }, d: 4 },
  { key: "kwha", label: "A kWh/M img", csv: "a_kwh_per_m_img", get: function (q) { return perMillion(q.ea).kwh; }, d: 3 },
  { key: "kwhb", label: "B kWh/M img", csv: "b_kwh_per_m_img", get: function (q) { return perMillion(q.eb).kwh; }, d: 3 },
  { key: "saved", label: "g CO2e saved/M img", csv: "co2e_saved_g_per_m_img", get: function (q) { return perMillion(q.ea).co2_g - perMillion(q.eb).co2_g; }, d: 3 }
];
function colText(v) { return typeof v === "function" ? v() : v; }
// The link that opens a model's panel: the current view's URL plus m=name@img, so it also works in a new tab.
function modelHref(base, i) { return base + "&m=" + encodeURIComponent(dataset.name[i] + "@" + dataset.img[i]); }
var pages = { explorer: 0, compare: 0 };

function sortRows(rows, cols, key, dir) {
  var col = cols.filter(function (c) { return c.key === key; })[0] || cols[0];
  var vals = rows.map(function (q) { return col.get(q); });
  var ord = rows.map(function (_, k) { return k; });
  ord.sort(function (x, y) {
    var a = vals[x], b = vals[y];
    if (col.txt) return dir * String(a).localeCompare(String(b));
    var an = a === null || a !== a, bn = b === null || b !== b;
    if (an || bn) return an === bn ? 0 : an ? 1 : -1; // missing values last either way
    return dir * (a - b);
  });
  return ord.map(function (k) { return rows[k]; });
}
function drawHead(thead, cols, sortKey, dir, onSort) {
  clear(thead);
  var tr = el("tr");
  cols.forEach(function (c) {
    var th = el("th", c.txt ? "txt" : null);
    th.scope = "col";
    if (c.key === sortKey) th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    var b = el("button", null, colText(c.label));
    b.type = "button"; b.dataset.key = c.key;
    b.addEventListener("click", function () { onSort(c.key); });
    th.appendChild(b);
    tr.appendChild(th);
  });
  thead.appendChild(tr);
}
// The header is rebuilt only when a label or the sort changes (the currency, a click on a column). It follows the
// controls at once, also while the rows of a table out of view wait for the next frame.
function tableHead(tableId, cols, sortKey, dir, onSort) {
  var thead = $(tableId).tHead;
  var headKey = cols.map(function (c) { return colText(c.label); }).join("|") + "|" + sortKey + "|" + dir;
  if (thead.dataset.key !== headKey) { drawHead(thead, cols, sortKey, dir, onSort); thead.dataset.key = headKey; }
}
function renderTable(tableId, cols, rows, sortKey, dir, which, onSort, rowClass) {
  var tbody = $(tableId).tBodies[0];
  tableHead(tableId, cols, sortKey, dir, onSort);
  var pageCount = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  if (pages[which] >= pageCount) pages[which] = pageCount - 1;
  var start = pages[which] * PAGE_SIZE;
  var frag = document.createDocumentFragment();
  var base = encodeState().replace(/&m=[^&]*/, "");
  rows.slice(start, start + PAGE_SIZE).forEach(function (q) {
    var r = el("tr", rowClass ? rowClass(q) : null);
    cols.forEach(function (c) {
      var v = c.get(q);
      var shown = c.txt ? v : c.plain ? (v === null || v !== v || !v ? "\u2013" : String(v)) : fmt(v, c.d || 6);
      var td = el("td", (c.txt ? "txt" : "") + (c.key === "model" ? " model" : ""), c.link ? null : shown);
      if (c.link) {
        var a = el("a", "model-link", shown);
        a.href = modelHref(base, q.i); a.dataset.i = String(q.i);
        td.appendChild(a);
      }
      var note = c.note ? c.note(q) : "";
      if (c.key === "model") td.title = String(v) + (note ? "\n" + note : "");
      if (note) r.className += " suspect";
      r.appendChild(td);
    });
    frag.appendChild(r);
  });
  clear(tbody);
  tbody.appendChild(frag);
  return { page: pages[which] + 1, pageCount: pageCount };
}
function drawTable() {
  var rows = explorerView.pts.concat(explorerView.over.length ? [] : []);
  var sorted = sortRows(rows, TABLE_COLS, state.sort, state.dir);
  explorerView.tableRows = sorted;
  var sim = explorerView.setup && explorerView.setup.simulated;
  var pg = renderTable("table", TABLE_COLS, sorted, state.sort, state.dir, "explorer", sortExplorer,
    function (q) { return (q.hit ? "hit" : "") + (sim ? " sim" : ""); });
  $("table-count").textContent = rows.length + " models" + (explorerView.setup ? " on " + explorerView.setup.id : "") +
    (state.q.trim() ? " matching \u201c" + state.q.trim() + "\u201d" : "");
  $("page-info").textContent = "page " + pg.page + " of " + pg.pageCount;
  $("prev-page").disabled = pg.page <= 1;
  $("next-page").disabled = pg.page >= pg.pageCount;
}
function sortExplorer(key) {
  if (state.sort === key) state.dir = -state.dir; else { state.sort = key; state.dir = key === "model" || key === "type" || key === "family" ? 1 : -1; }
  changed("sort", renderExplorerTable);
}
function renderExplorerTable() { drawTable(); }

function csvCell(v) {
  var s = v === null || v === undefined || (typeof v === "number" && !isFinite(v)) ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s) && typeof v !== "number") s = "'" + s; // no formula injection in spreadsheets
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}
function download(name, cols, rows, extra) {
  var lines = [cols.map(function (c) { return colText(c.csv); }).concat(extra ? extra.head : []).join(",")];
  rows.forEach(function (q) {
    lines.push(cols.map(function (c) { return csvCell(c.get(q)); }).concat(extra ? extra.row(q).map(csvCell) : []).join(","));
  });
  var blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
  var a = el("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
