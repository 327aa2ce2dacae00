/* Shared helpers: the test/benchmark hook object, DOM building, number formatting, the message line. */
var PAGE_SIZE = 50;
var TYPE_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C6D31", "#7F7F7F"];
var jb = (window.__jb = { ready: false, errors: [], timings: { changes: [], parts: {} } });
var $ = function (id) { return document.getElementById(id); };

function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
function fmt(v, digits) {
  if (v === null || v === undefined || !isFinite(v)) return "\u2013";
  var a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return NUMBER_FORMAT.format(Number(v.toPrecision(digits || 3)));
}
// one cached formatter: toLocaleString() builds a new one per call, which cost ~0.3 ms a table cell
var NUMBER_FORMAT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });
function setMsg(text, kind) {
  var m = $("msg");
  m.textContent = text || "";
  m.className = "msg" + (kind ? " " + kind : "");
}
