/* The view state (every control's value) and its mirror in the URL hash. */
// Example inputs only (not measurements); the user is asked to enter their own.
var EXAMPLE_INTENSITY = 400;
var EXAMPLE_PRICE = 0.2;
var CURRENCIES = ["USD", "EUR", "GBP", "CHF", "JPY", "CNY", "INR", "CAD", "AUD"];
var state;
function defaults() {
  var setup = defaultSetup();
  var cmp = defaultCompare(setup);
  return {
    view: "explorer", setup: setup, overlay: "", ts: dataset.testsets.indexOf("imagenet") >= 0 ? ["imagenet"] : dataset.testsets.slice(0, 1),
    score: "manhattan", w: 0.5, amin: null, emax: null, axis: "log", top: 10,
    types: dataset.types.slice(), fams: [], q: "", ci: EXAMPLE_INTENSITY, price: EXAMPLE_PRICE, cur: "USD",
    ca: cmp[0], cb: cmp[1], sort: "score", dir: -1, csort: "factor", cdir: -1,
    zoom: null, // [energy lo, hi (mJ), accuracy lo, hi (%)] of the zoomed scatter; null = everything
    model: "" // "name@img" of the model in the panel; "" = closed
  };
}
function numOrNull(v) {
  if (v === null || v === undefined || String(v).trim() === "") return null;
  var x = Number(v);
  return isFinite(x) ? x : null;
}
function encodeState() {
  var p = new URLSearchParams();
  p.set("v", state.view); p.set("setup", state.setup);
  if (state.overlay) p.set("overlay", state.overlay);
  p.set("ts", state.ts.join(",")); p.set("score", state.score); p.set("w", String(state.w));
  if (state.amin !== null) p.set("amin", String(state.amin));
  if (state.emax !== null) p.set("emax", String(state.emax));
  p.set("axis", state.axis); p.set("top", String(state.top));
  if (state.types.length !== dataset.types.length) p.set("types", state.types.join(","));
  if (state.fams.length) p.set("fam", state.fams.join(","));
  if (state.q) p.set("q", state.q);
  p.set("ci", String(state.ci)); p.set("price", String(state.price)); p.set("cur", state.cur);
  if (state.zoom) p.set("zoom", state.zoom.map(function (v) { return Number(v.toPrecision(5)); }).join(","));
  if (state.model) p.set("m", state.model);
  p.set("ca", state.ca); p.set("cb", state.cb);
  p.set("sort", state.sort); p.set("dir", String(state.dir)); p.set("csort", state.csort); p.set("cdir", String(state.cdir));
  return "#" + p.toString();
}
function decodeState(hash) {
  var s = defaults();
  var p = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  var notes = [];
  function pick(key, allowed) { var v = p.get(key); return v !== null && allowed.indexOf(v) >= 0 ? v : null; }
  var v;
  if ((v = pick("v", ["explorer", "compare"]))) s.view = v;
  var ids = dataset.setups.map(function (x) { return x.id; });
  if (p.has("setup")) { if ((v = pick("setup", ids))) s.setup = v; else notes.push("setup '" + p.get("setup") + "' is not in this data"); }
  if ((v = pick("overlay", ids))) s.overlay = v;
  if (p.has("ts")) {
    var ts = p.get("ts").split(",").filter(function (t) { return dataset.testsets.indexOf(t) >= 0; });
    if (ts.length) s.ts = ts;
  }
  if ((v = pick("score", ["manhattan", "apj"]))) s.score = v;
  var w = numOrNull(p.get("w")); if (w !== null && w >= 0 && w <= 1) s.w = w;
  s.amin = p.has("amin") ? numOrNull(p.get("amin")) : null;
  s.emax = p.has("emax") ? numOrNull(p.get("emax")) : null;
  if ((v = pick("axis", ["log", "linear"]))) s.axis = v;
  var top = numOrNull(p.get("top")); if (top !== null && top >= 1) s.top = Math.min(50, Math.round(top));
  if (p.has("types")) {
    var types = p.get("types").split(",").filter(function (t) { return dataset.types.indexOf(t) >= 0; });
    if (types.length || !p.get("types")) s.types = types; else notes.push("types '" + p.get("types").slice(0, 60) + "' are not in this data, all types shown");
  }
  if (p.has("fam")) {
    s.fams = p.get("fam").split(",").filter(function (f) { return dataset.families.indexOf(f) >= 0; });
    if (!s.fams.length && p.get("fam")) notes.push("families '" + p.get("fam").slice(0, 60) + "' are not in this data, all families shown");
  }
  if (p.has("q")) s.q = p.get("q").slice(0, 200);
  var ci = numOrNull(p.get("ci")); if (ci !== null && ci >= 0) s.ci = ci;
  var pr = numOrNull(p.get("price")); if (pr !== null && pr >= 0) s.price = pr;
  if ((v = pick("cur", CURRENCIES))) s.cur = v;
  if (p.has("zoom")) {
    var z = p.get("zoom").split(",").map(Number);
    if (z.length === 4 && z.every(isFinite) && z[1] > z[0] && z[3] > z[2] && (s.axis === "linear" || z[0] > 0)) s.zoom = z;
    else notes.push("zoom '" + p.get("zoom").slice(0, 60) + "' is not a range, zoom reset");
  }
  if (p.has("m")) {
    if (p.get("m") in dataset.keyIndex) s.model = p.get("m");
    else notes.push("model '" + p.get("m").slice(0, 80) + "' is not in this data");
  }
  if ((v = pick("ca", ids))) s.ca = v;
  if ((v = pick("cb", ids))) s.cb = v;
  if ((v = pick("sort", TABLE_COLS.map(function (c) { return c.key; })))) s.sort = v;
  if ((v = pick("dir", ["1", "-1"]))) s.dir = Number(v);
  if ((v = pick("csort", CMP_COLS.map(function (c) { return c.key; })))) s.csort = v;
  if ((v = pick("cdir", ["1", "-1"]))) s.cdir = Number(v);
  if (notes.length) setMsg("Link restored with changes: " + notes.join("; ") + ".", "error");
  return s;
}
/* The URL follows the controls once they rest: Chrome throttles rapid replaceState calls (a dragged slider fires
 * dozens), each costs ~30 ms of a slow CPU, and the link only matters once the view settles. It is written half a
 * second after the last change, when the page is idle, so it never delays the frame that shows a change. */
var URL_DELAY_MS = 500;
var urlTimer = null;
function flushUrl() {
  if (urlTimer !== null) { clearTimeout(urlTimer); urlTimer = null; }
  jb.urlPending = false;
  var h = encodeState();
  if (location.hash !== h) history.replaceState(null, "", h);
}
function writeUrl() {
  jb.urlPending = true;
  if (urlTimer !== null) clearTimeout(urlTimer);
  urlTimer = setTimeout(function () {
    urlTimer = null;
    if (window.requestIdleCallback) requestIdleCallback(function () { if (jb.urlPending && urlTimer === null) flushUrl(); }, { timeout: 500 });
    else flushUrl();
  }, URL_DELAY_MS);
}
window.addEventListener("pagehide", flushUrl);
