/* Your results in the browser: CSV parsing and ingest into new setups (never into innerHTML). */
var MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
var MAX_UPLOAD_ROWS = 50000;
var MAX_NAME_LEN = 200;
function parseCsv(text) {
  var rows = [], row = [], cell = "", q = false, i = 0, n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (; i < n; i++) {
    var ch = text[i];
    if (q) {
      if (ch === '"') { if (text[i + 1] === '"') { cell += '"'; i++; } else q = false; } else cell += ch;
    } else if (ch === '"' && cell === "") q = true;
    else if (ch === ",") { row.push(cell); cell = ""; }
    else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(cell); cell = "";
      if (row.length > 1 || row[0] !== "") rows.push(row);
      row = [];
      if (rows.length > MAX_UPLOAD_ROWS + 1) throw new Error("more than " + MAX_UPLOAD_ROWS + " rows; split the file");
    } else cell += ch;
  }
  if (q) throw new Error("a quoted field is never closed (unbalanced \")");
  row.push(cell);
  if (row.length > 1 || row[0] !== "") rows.push(row);
  return rows;
}
var UPLOAD_ALIASES = {
  model: ["model", "model_name"], img_size: ["img_size", "input_size"], gpu: ["gpu_name", "gpu"],
  runtime: ["runtime"], precision: ["precision"], energy: ["energy_per_image_j"],
  tp: ["throughput_ips"], lat: ["latency_mean_s", "latency_s"], bs: ["optimal_batch", "batch_size"],
  meter: ["meter"], accuracy: ["accuracy", "top1"], status: ["status"]
};
/* Same rule and board table as joulebench.data.gpu_names (gpu_short_name, BOARD_NAMES), so uploaded setups line
 * up with the store's: 'NVIDIA H200' -> H200, 'NVIDIA A100-PCIE-40GB' -> A100, 'NVIDIA GeForce RTX 4090' ->
 * RTX4090, 'NVIDIA H100 80GB HBM3' -> H100-SXM. */
var BOARD_NAMES = {
  "H100 80GB HBM3": "H100-SXM", "H100 NVL": "H100-NVL", "A100 SXM4 40GB": "A100-SXM", "A100 SXM4 80GB": "A100-SXM"
};
function shortGpu(name) {
  var s = String(name || "").trim(), t;
  var vendor = /^(nvidia|tesla|geforce|quadro|amd|radeon|instinct)\s+/i;
  while ((t = s.replace(vendor, "")) !== s) s = t;
  var toks = s.split(/[\s\-_]+/).filter(function (x) { return x; });
  if (!toks.length) return "unknown";
  var board = toks.join(" ").toUpperCase();
  if (Object.prototype.hasOwnProperty.call(BOARD_NAMES, board)) return BOARD_NAMES[board];
  var first = toks[0].toUpperCase();
  if ((first === "RTX" || first === "GTX") && toks.length > 1) return first + toks[1].toUpperCase();
  return first.slice(0, 24);
}
function finiteOrNaN(v) {
  if (v === undefined || v === null || String(v).trim() === "") return NaN;
  var x = Number(v);
  return isFinite(x) ? x : NaN;
}
/* Returns {added, setups, skipped} or throws Error with a message for the user. */
function ingest(text, fileName) {
  var rows = parseCsv(text);
  if (rows.length < 2) throw new Error("no data rows (the first line must be a header)");
  var head = rows[0].map(function (h) { return h.trim().toLowerCase(); });
  var col = {};
  Object.keys(UPLOAD_ALIASES).forEach(function (k) {
    var found = UPLOAD_ALIASES[k].map(function (a) { return head.indexOf(a); }).filter(function (x) { return x >= 0; });
    col[k] = found.length ? found[0] : -1;
  });
  var tsCols = {};
  dataset.testsets.forEach(function (t) { var x = head.indexOf(t); if (x >= 0) tsCols[t] = x; });
  var missing = [];
  if (col.model < 0) missing.push("model");
  if (col.energy < 0) missing.push("energy_per_image_j");
  if (missing.length) {
    throw new Error("missing required column(s) " + missing.join(", ") + "; found " +
      head.slice(0, 12).map(function (h) { return h.slice(0, 30); }).join(", ") + ". Required: model, energy_per_image_j");
  }
  var bySetup = {}, skipped = { energy: 0, name: 0, failed: 0 }, newModels = 0;
  for (var r = 1; r < rows.length; r++) {
    var row = rows[r];
    var status = col.status >= 0 ? String(row[col.status] || "").trim().toLowerCase() : "";
    if (status && status !== "ok") { skipped.failed++; continue; } // failed runs carry no energy to plot
    var name = (row[col.model] || "").trim();
    if (!name || name.length > MAX_NAME_LEN) { skipped.name++; continue; }
    var e = finiteOrNaN(row[col.energy]);
    if (!(e > 0)) { skipped.energy++; continue; }
    var img = col.img_size >= 0 ? finiteOrNaN(row[col.img_size]) : NaN;
    var i = img === img ? dataset.keyIndex[name + "@" + Math.round(img)] : dataset.nameIndex[name];
    if (i === undefined) {
      i = dataset.n;
      dataset.name.push(name); dataset.lname.push(name.toLowerCase()); dataset.img.push(img === img ? Math.round(img) : 0);
      var ut = dataset.types.indexOf("Unknown");
      if (ut < 0) { dataset.types.push("Unknown"); ut = dataset.types.length - 1; }
      var uf = dataset.families.indexOf("Unknown");
      if (uf < 0) { dataset.families.push("Unknown"); uf = dataset.families.length - 1; }
      dataset.type.push(ut); dataset.family.push(uf); dataset.year.push(null); dataset.params.push(null); dataset.macs.push(null); dataset.url.push(null);
      resizeAll(dataset.n + 1);
      indexModel(i);
      newModels++;
    }
    // uploaded accuracy fills gaps only: a setup never changes the reference accuracy of a model
    var acc = col.accuracy >= 0 ? finiteOrNaN(row[col.accuracy]) : NaN;
    if (acc === acc && dataset.acc.imagenet && dataset.acc.imagenet[i] !== dataset.acc.imagenet[i]) dataset.acc.imagenet[i] = acc;
    Object.keys(tsCols).forEach(function (t) {
      var v = finiteOrNaN(row[tsCols[t]]);
      if (v === v && dataset.acc[t][i] !== dataset.acc[t][i]) dataset.acc[t][i] = v;
    });
    var gpu = col.gpu >= 0 && row[col.gpu] ? shortGpu(row[col.gpu]) : "";
    var rt = (col.runtime >= 0 && row[col.runtime] ? row[col.runtime] : col.precision >= 0 && row[col.precision] ? row[col.precision] : "").trim().slice(0, 40);
    var sim = col.meter >= 0 && String(row[col.meter]).trim().toLowerCase() === "sim";
    var id = (gpu || rt ? (gpu || "GPU") + ":" + (rt || "runtime") : "uploaded") + (sim ? ":sim" : "") + " [" + fileName + "]";
    var b = bySetup[id] || (bySetup[id] = { id: id, gpu: gpu, runtime: rt, simulated: sim, m: [], e: [], tp: [], lat: [], bs: [], seen: {} });
    var val = [e, finiteOrNaN(row[col.tp]), finiteOrNaN(row[col.lat]), finiteOrNaN(row[col.bs])];
    if (i in b.seen) { var k = b.seen[i]; b.e[k] = val[0]; b.tp[k] = val[1]; b.lat[k] = val[2]; b.bs[k] = val[3]; continue; }
    b.seen[i] = b.m.length;
    b.m.push(i); b.e.push(val[0]); b.tp.push(val[1]); b.lat.push(val[2]); b.bs.push(val[3]);
  }
  var ids = Object.keys(bySetup);
  if (!ids.length) throw new Error("no usable rows: every row lacks a model name or a positive energy_per_image_j");
  ids.forEach(function (id) {
    var b = bySetup[id];
    if (dataset.setupById[id]) { // re-upload of the same file replaces its setup
      dataset.setups = dataset.setups.filter(function (s) { return s.id !== id; });
      delete dataset.setupById[id];
    }
    addSetup({ id: id, gpu: b.gpu, runtime: b.runtime, simulated: b.simulated, uploaded: true, source: "upload" }, b.m, b);
  });
  return { setups: ids, rows: ids.reduce(function (s, id) { return s + bySetup[id].m.length; }, 0), newModels: newModels, skipped: skipped };
}
/* The file's text, or an Error saying what it is instead: reading another encoding as UTF-8 would load
 * garbled names without a word. */
function decodeUtf8(buf) {
  var b = new Uint8Array(buf);
  if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff)) {
    throw new Error("the file is UTF-16 text; save it as CSV UTF-8 (in a spreadsheet: Save as, CSV UTF-8) and load it again");
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch (e) {
    throw new Error("the file is not UTF-8 text (probably Latin-1 or Windows-1252 from a spreadsheet); save it as CSV UTF-8 and load it again");
  }
}
function safeFileName(n) { return String(n).replace(/[^\w.\-]/g, "_").slice(0, 40); }
function onUpload(file) {
  if (!file) return;
  if (file.size > MAX_UPLOAD_BYTES) {
    setMsg("Not loaded: " + safeFileName(file.name) + " is " + (file.size / 1048576).toFixed(1) + " MB; the limit is " + MAX_UPLOAD_BYTES / 1048576 + " MB.", "error");
    $("upload").value = "";
    return;
  }
  var reader = new FileReader();
  reader.onerror = function () { setMsg("Not loaded: the file could not be read.", "error"); };
  reader.onload = function () {
    var res, typesBefore = dataset.types.length;
    try {
      res = ingest(decodeUtf8(reader.result), safeFileName(file.name));
    } catch (err) {
      setMsg("Not loaded: " + safeFileName(file.name) + ": " + err.message + ".", "error");
      $("upload").value = "";
      jb.lastUpload = { ok: false, message: err.message };
      return;
    }
    state.types = state.types.concat(dataset.types.slice(typesBefore)); // a type new with the upload starts visible
    buildControls();
    if (!state.overlay || !dataset.setupById[state.overlay] || dataset.setupById[state.overlay].uploaded) state.overlay = res.setups[0];
    syncControls();
    var sk = res.skipped, notes = [];
    if (sk.energy) notes.push(sk.energy + " without a positive energy");
    if (sk.name) notes.push(sk.name + " without a usable model name");
    if (sk.failed) notes.push(sk.failed + " failed runs");
    var sims = res.setups.filter(function (id) { return dataset.setupById[id].simulated; }).length;
    setMsg("Loaded " + res.rows + " rows into " + res.setups.length + " setup(s)" + (res.newModels ? ", " + res.newModels + " models not in the reference" : "") +
      (sims ? "; simulated rows are labelled" : "") + (notes.length ? "; skipped " + notes.join(", ") : "") +
      ". Shown as \u25C7 overlay; pick them in the setup list to rank them.", "ok");
    jb.lastUpload = { ok: true, setups: res.setups, rows: res.rows, skipped: sk };
    changed("upload", renderAll);
  };
  reader.readAsArrayBuffer(file);
}
