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
// a node's text, written only when it changes: an unchanged line then costs the next frame no layout
function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
// one removal of all children: a removeChild per child cost ~10 ms a table page on a slow CPU
function clear(node) { node.textContent = ""; }
function fmt(v, digits) {
  if (v === null || v === undefined || !isFinite(v)) return "\u2013";
  var a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return plainNumber(Number(v.toPrecision(digits || 3)));
}
/* A number below a million as en-US writes it (1,234.5), at most 6 decimals rounded half away from zero on its
 * shortest decimal form: what Intl.NumberFormat("en-US", {maximumFractionDigits: 6}) prints, without building
 * one, which loads the locale data and costs ~140 ms of a slow CPU's start-up. */
function plainNumber(x) {
  if (x === 0) return 1 / x < 0 ? "-0" : "0";
  var s = String(Math.abs(x)), dot = s.indexOf(".");
  var whole = dot < 0 ? s : s.slice(0, dot), frac = dot < 0 ? "" : s.slice(dot + 1);
  if (frac.length > 6) {
    var n = Number(whole + frac.slice(0, 6)) + (frac.charCodeAt(6) >= 53 ? 1 : 0); // an integer below 1e12: exact
    var t = String(n);
    while (t.length < 7) t = "0" + t;
    whole = t.slice(0, t.length - 6); frac = t.slice(t.length - 6).replace(/0+$/, "");
  }
  for (var g = whole.length - 3; g > 0; g -= 3) whole = whole.slice(0, g) + "," + whole.slice(g);
  return (x < 0 ? "-" : "") + whole + (frac ? "." + frac : "");
}
function setMsg(text, kind) {
  var m = $("msg");
  m.textContent = text || "";
  m.className = "msg" + (kind ? " " + kind : "");
}
