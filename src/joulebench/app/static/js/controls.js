/* The control panel: filling the selects and checkboxes from the data, reading them into the state and back. */
function fillSelect(sel, options, value) {
  clear(sel);
  options.forEach(function (o) {
    var opt = el("option", null, o.label);
    opt.value = o.value;
    sel.appendChild(opt);
  });
  sel.value = value;
}
// One checkbox per value, after the box's legend (its first child); decorate(label, k) adds to a label
// between its checkbox and its text.
function fillChecks(box, values, idPrefix, group, decorate) {
  while (box.children.length > 1) box.removeChild(box.lastChild);
  var wrap = el("div", "checks");
  values.forEach(function (v, k) {
    var lab = el("label");
    lab.htmlFor = idPrefix + k;
    var cb = el("input");
    cb.type = "checkbox"; cb.id = idPrefix + k; cb.value = v; cb.dataset.group = group;
    lab.appendChild(cb);
    if (decorate) decorate(lab, k);
    lab.appendChild(document.createTextNode(v));
    wrap.appendChild(lab);
  });
  box.appendChild(wrap);
}
function setupLabel(s) {
  var tags = [];
  if (s.uploaded) tags.push("uploaded");
  if (s.simulated) tags.push("SIMULATED");
  if (s.source === "joulebench" && !s.uploaded) tags.push("own");
  return s.id + " \u2013 " + s.count + " models" + (tags.length ? " (" + tags.join(", ") + ")" : "");
}
/* The families list (one entry per family, ~120) is the dearest control to lay out: at start-up it is filled right
 * after the first frame (buildControls(true)); until then the state keeps the families it has. */
var familiesFilled = false;
function buildControls(deferFamilies) {
  var setupOpts = dataset.setups.map(function (s) { return { value: s.id, label: setupLabel(s) }; });
  fillSelect($("setup"), setupOpts, state.setup);
  fillSelect($("overlay"), [{ value: "", label: "(none)" }].concat(setupOpts), state.overlay);
  fillSelect($("cmp-a"), setupOpts, state.ca);
  fillSelect($("cmp-b"), setupOpts, state.cb);
  fillSelect($("currency"), CURRENCIES.map(function (c) { return { value: c, label: c }; }), state.cur);

  fillChecks($("testsets"), dataset.testsets, "ts-", "ts");
  fillChecks($("types"), dataset.types, "type-", "types", function (lab, k) {
    var sw = el("span", "swatch");
    sw.style.background = TYPE_COLORS[k % TYPE_COLORS.length];
    lab.appendChild(sw);
  });

  if (deferFamilies) { afterFirstFrame(fillFamilies); refreshPending(); } else fillFamilies();
}
function fillFamilies() {
  var counts = {};
  for (var i = 0; i < dataset.n; i++) counts[dataset.family[i]] = (counts[dataset.family[i]] || 0) + 1;
  fillSelect($("families"), dataset.families.map(function (f, k) { return { value: f, label: f + " (" + (counts[k] || 0) + ")" }; }), null);
  familiesFilled = true;
  syncFamilies();
  refreshPending();
}
function syncFamilies() {
  if (!familiesFilled) return;
  Array.prototype.forEach.call($("families").options, function (o) {
    var on = state.fams.indexOf(o.value) >= 0;
    if (o.selected !== on) o.selected = on;
  });
}
function syncControls() {
  $("setup").value = state.setup;
  $("overlay").value = state.overlay;
  document.querySelectorAll("input[data-group=ts]").forEach(function (c) { c.checked = state.ts.indexOf(c.value) >= 0; });
  $("score").value = state.score;
  $("weight").value = String(state.w);
  $("weight-out").textContent = state.w.toFixed(2);
  $("weight-ctl").hidden = state.score !== "manhattan" || state.view !== "explorer";
  $("amin").value = state.amin === null ? "" : String(state.amin);
  $("emax").value = state.emax === null ? "" : String(state.emax);
  $("axis").value = state.axis;
  $("topn").value = String(state.top);
  document.querySelectorAll("input[data-group=types]").forEach(function (c) { c.checked = state.types.indexOf(c.value) >= 0; });
  syncFamilies();
  $("search").value = state.q;
  $("intensity").value = String(state.ci);
  $("price").value = String(state.price);
  $("currency").value = state.cur;
  $("price").labels[0].textContent = "Price (" + state.cur + "/kWh)";
  $("amin").placeholder = state.score === "apj" ? "median" : "none";
  // controls that do nothing in the comparison are not shown there
  document.querySelectorAll("[data-view=explorer]").forEach(function (e) { e.hidden = state.view !== "explorer"; });
  $("compare-hint").hidden = state.view !== "compare";
  $("cmp-a").value = state.ca;
  $("cmp-b").value = state.cb;
  $("tab-explorer").setAttribute("aria-selected", String(state.view === "explorer"));
  $("tab-compare").setAttribute("aria-selected", String(state.view === "compare"));
  $("view-explorer").hidden = state.view !== "explorer";
  $("view-compare").hidden = state.view !== "compare";
}
function readControls() {
  state.setup = $("setup").value;
  state.overlay = $("overlay").value;
  var ts = [];
  document.querySelectorAll("input[data-group=ts]").forEach(function (c) { if (c.checked) ts.push(c.value); });
  state.ts = ts;
  state.score = $("score").value;
  state.w = Number($("weight").value);
  $("weight-out").textContent = state.w.toFixed(2);
  $("weight-ctl").hidden = state.score !== "manhattan";
  $("amin").placeholder = state.score === "apj" ? "median" : "none";
  state.amin = numOrNull($("amin").value);
  state.emax = numOrNull($("emax").value);
  if (state.axis !== $("axis").value) state.zoom = null; // a range on one axis kind means little on the other
  state.axis = $("axis").value;
  var top = numOrNull($("topn").value);
  state.top = top === null ? 10 : Math.max(1, Math.min(50, Math.round(top)));
  var types = [];
  document.querySelectorAll("input[data-group=types]").forEach(function (c) { if (c.checked) types.push(c.value); });
  state.types = types;
  if (familiesFilled) state.fams = Array.prototype.filter.call($("families").options, function (o) { return o.selected; }).map(function (o) { return o.value; });
  state.q = $("search").value.slice(0, 200);
  var ci = numOrNull($("intensity").value); state.ci = ci === null || ci < 0 ? 0 : ci;
  var pr = numOrNull($("price").value); state.price = pr === null || pr < 0 ? 0 : pr;
  state.cur = $("currency").value || "USD";
  $("price").labels[0].textContent = "Price (" + state.cur + "/kWh)";
  state.ca = $("cmp-a").value;
  state.cb = $("cmp-b").value;
}
