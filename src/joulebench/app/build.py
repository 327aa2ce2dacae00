"""Turn a dataset view into the explorer's payload and write the static site.

The payload is columnar JSON (one list per field, models referenced by index) so that 2,000 models x 8
setups stay around a megabyte and parse fast. Quantities stay SI (joules, seconds); the browser converts
to mJ/kWh for display. The site embeds the payload as ``data.js`` (``window.JB_DATA = JSON.parse("...")``) so it
opens from ``file://`` without fetch.
"""

from __future__ import annotations

import json
import math
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from joulebench.app.batches import batch_curves, load_batches
from joulebench.data.importer import TESTSETS
from joulebench.errors import ConfigError
from joulebench.store.records import WIDE_CI95_REL

STATIC_DIR = Path(__file__).with_name("static")
STATIC_FILES = ("index.html", "style.css")
# The page's script, by concern, in the order they are joined into app.js (see app_js). One script in one
# function scope: browsers load no ES modules from file://, and the site must open from a folder.
APP_MODULES = (
    "format-and-dom.js",  # helpers: DOM, numbers, the message line, window.__jb
    "dataset.js",  # the payload as typed arrays; the default setup
    "state-url.js",  # the view state and its mirror in the URL hash
    "controls.js",  # the control panel <-> state
    "compute.js",  # what is shown: points, scores, ranking, frontier, comparison
    "plot-axes.js",  # canvas plot, scales, axes
    "scatter.js",  # the explorer's scatter and legend
    "zoom-pan.js",  # zoom, pan and keyboard on the scatter
    "ranking-bars.js",  # the ranking beside it
    "table.js",  # sortable tables and CSV download
    "compare-view.js",  # setup A against setup B
    "tooltip.js",  # hover and click on the plots
    "model-panel.js",  # one model on every setup, its batch curve
    "upload-csv.js",  # your results from a CSV file
    "render.js",  # rendering and the timing of each change
    "test-hook.js",  # window.__jb for tests and the benchmark
    "main.js",  # start-up and event wiring
)
PAYLOAD_SCHEMA = 1
DATA_GLOBAL = "JB_DATA"

# Display order of test sets and architecture types; names outside these lists follow, sorted.
TESTSET_ORDER = TESTSETS
TYPE_ORDER = ("CNN", "Transformer", "Hybrid CNN-Transformer", "MLP")
UNKNOWN = "Unknown"

OWN_SOURCE = "joulebench"
ACCURACY_SOURCE_RANK = {"timm": 0, "hidden-joules-2025": 1}
HF_MODEL_URL = "https://huggingface.co/timm/{model}"  # a timm pretrained tag's page on the Hugging Face Hub

_ENERGY_REQUIRED = ("model", "img_size", "setup", "energy_per_image_j")
_ACCURACY_REQUIRED = ("model", "img_size", "testset", "top1")
_SIG_DIGITS = 6  # measured values carry far fewer significant digits; this only trims float noise


def _num(v: Any, digits: int = _SIG_DIGITS) -> float | int | None:
    """A JSON-safe number (None for missing/NaN), rounded to ``digits`` significant digits."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if math.isnan(f) or math.isinf(f):
        return None
    if f == 0:
        return 0
    if f.is_integer() and abs(f) < 2**53:
        return int(f)
    return float(f"{f:.{digits}g}")


def _str(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    s = str(v)
    return s if s and s.lower() not in ("nan", "none", "<na>") else None


def _ordered(values: set[str], order: tuple[str, ...]) -> list[str]:
    return [v for v in order if v in values] + sorted(v for v in values if v not in order)


def _check_columns(frame: Any, required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"the dataset's {what} table lacks column(s) {', '.join(missing)}: "
            f"build the dataset with joulebench.data.load_dataset()"
        )


def _records(frame: Any) -> list[dict[str, Any]]:
    return [] if frame is None else frame.to_dict("records")


def build_payload(dataset: Any, batches: Any = None) -> dict[str, Any]:
    """Build the explorer's compact columnar payload from a dataset view.

    Args:
        dataset: Anything with ``.energy``, ``.accuracy`` and ``.catalogue`` pandas DataFrames in the
            columns of ``joulebench.data`` (see docs/ARCHITECTURE.md). ``.catalogue`` may be empty; an
            optional ``meter`` column in ``.energy`` marks simulated rows (``sim``).
        batches: Per-batch readings of own measurements (:func:`joulebench.app.batches.load_batches`), or
            None: they give each own setup its batch curves and each reading its confidence interval.

    Returns:
        A JSON-serialisable dict: ``models`` (columns per model configuration), ``acc`` (top-1 per test
        set, aligned with ``models``), ``setups`` (per setup: model indices and energy/throughput/latency/
        batch columns, and ``flag``: ``[model index, reason]`` for each reading that fails a consistency check
        of ``joulebench.analysis.consistency.suspect_readings``; for own measurements with batch readings,
        ``ci`` per reading and ``curves``: per model index, ``bs``/``e``/``tp``/``pw``/``ci`` lists), plus the
        ordered ``types``, ``families`` and ``testsets``.

    Raises:
        ConfigError: A table lacks a required column.
    """
    energy, accuracy, catalogue = dataset.energy, dataset.accuracy, getattr(dataset, "catalogue", None)
    _check_columns(energy, _ENERGY_REQUIRED, "energy")
    _check_columns(accuracy, _ACCURACY_REQUIRED, "accuracy")
    if "status" in energy.columns:
        energy = energy[energy["status"].fillna("ok") == "ok"]
    if "source" in accuracy.columns:
        # timm's published accuracy first, the paper's as a fallback (the dataset view's own rule)
        rank = accuracy["source"].map(ACCURACY_SOURCE_RANK).fillna(len(ACCURACY_SOURCE_RANK))
        accuracy = accuracy.assign(_rank=rank).sort_values("_rank", kind="stable", ascending=False)
    if "source" in energy.columns:
        energy = energy.assign(_own=energy["source"].eq(OWN_SOURCE)).sort_values("_own", kind="stable")

    index = _ModelIndex()
    energy_rows, acc_rows = _records(energy), _records(accuracy)
    for r in (*energy_rows, *acc_rows):
        index.add(r.get("model"), r.get("img_size"))
    testsets, acc = _accuracy_columns(acc_rows, index)
    types, families, models = _model_columns(index.keys, catalogue, getattr(dataset, "stats", None))
    setups = _group_setups(energy_rows, index)
    flags = _flags(energy, catalogue, index.index)
    own = {(s["gpu"], s["runtime"], s["simulated"]): sid for sid, s in setups.items() if s["source"] == OWN_SOURCE}
    curves = batch_curves(batches, own, index.index)
    out_setups = [_setup_columns(setups[sid], flags.get(sid, {}), curves.get(sid, {})) for sid in sorted(setups)]
    return {
        "schema": PAYLOAD_SCHEMA,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sources": sorted({s["source"] for s in out_setups if s["source"]}),
        "types": types,
        "families": families,
        "testsets": testsets,
        "models": models,
        "acc": acc,
        "setups": out_setups,
        "ci_wide_rel": WIDE_CI95_REL,
    }


class _ModelIndex:
    """Model configurations (name, input size) numbered in the order first seen."""

    def __init__(self) -> None:
        self.index: dict[tuple[str, int], int] = {}
        self.keys: list[tuple[str, int]] = []

    def add(self, name: Any, size: Any) -> int | None:
        """The configuration's number (a new one if unseen), or None when the name or size is missing."""
        n, s = _str(name), _num(size)
        if n is None or s is None:
            return None
        key = (n, int(s))
        if key not in self.index:
            self.index[key] = len(self.keys)
            self.keys.append(key)
        return self.index[key]


def _accuracy_columns(acc_rows: list[dict[str, Any]], index: _ModelIndex) -> tuple[list[str], dict[str, list]]:
    """The ordered test sets and, per test set, top-1 aligned with the model index (the first row wins)."""
    testsets = _ordered({t for r in acc_rows if (t := _str(r.get("testset")))}, TESTSET_ORDER)
    acc: dict[str, list[float | None]] = {t: [None] * len(index.keys) for t in testsets}
    for r in acc_rows:
        i, t = index.add(r.get("model"), r.get("img_size")), _str(r.get("testset"))
        v = _num(r.get("top1"))
        if i is not None and t is not None and v is not None:
            acc[t][i] = v
    return testsets, acc


def _model_columns(keys: list[tuple[str, int]], catalogue: Any, stats: Any) -> tuple[list, list, dict[str, list]]:
    """Ordered types and families, and the per-model columns (catalogue facts, then stats and family table)."""
    # catalogue facts keyed on (model, img_size), with a by-model fallback for other input sizes
    cat_exact: dict[tuple[str, int], dict[str, Any]] = {}
    cat_by_model: dict[str, dict[str, Any]] = {}
    for r in _records(catalogue):
        name = _str(r.get("model"))
        if name is None:
            continue
        size = _num(r.get("img_size"))
        if size is not None:
            cat_exact[(name, int(size))] = r
        cat_by_model.setdefault(name, r)
    stats_ix = _stats_index(stats)
    cats = [_describe(k, cat_exact.get(k) or cat_by_model.get(k[0]) or {}, stats_ix) for k in keys]
    types = _ordered({_str(c.get("type")) or UNKNOWN for c in cats}, (*TYPE_ORDER, UNKNOWN))
    families = sorted({_str(c.get("family")) or UNKNOWN for c in cats}, key=str.lower)
    type_ix = {t: i for i, t in enumerate(types)}
    fam_ix = {f: i for i, f in enumerate(families)}
    models = {
        "name": [k[0] for k in keys],
        "img": [k[1] for k in keys],
        "type": [type_ix[_str(c.get("type")) or UNKNOWN] for c in cats],
        "family": [fam_ix[_str(c.get("family")) or UNKNOWN] for c in cats],
        "year": [_num(c.get("year")) for c in cats],
        "params": [_num(c.get("params"), 4) for c in cats],
        "macs": [_num(c.get("macs"), 4) for c in cats],
        "url": [_safe_url(c.get("url")) for c in cats],
    }
    return types, families, models


def _group_setups(energy_rows: list[dict[str, Any]], index: _ModelIndex) -> dict[str, dict[str, Any]]:
    """Energy rows grouped per setup id (``_rows``: model index -> row, a later row replacing an earlier one).

    Simulated rows (meter ``sim``) form their own setup so they never mix with real ones, and one setup name
    measured by two sources (the paper's A100 and your own A100) stays two setups.
    """
    setups: dict[str, dict[str, Any]] = {}
    setup_source: dict[str, str] = {}
    for r in energy_rows:
        i, e = index.add(r.get("model"), r.get("img_size")), _num(r.get("energy_per_image_j"))
        setup = _str(r.get("setup"))
        if i is None or e is None or e <= 0 or setup is None:
            continue
        simulated = _str(r.get("simulated")) in ("True", "true", "1") or _str(r.get("meter")) == "sim"
        if simulated and not setup.endswith(":sim"):
            setup += ":sim"
        source = _str(r.get("source")) or ""
        first = setup_source.setdefault(setup, source)
        sid = setup if source == first else f"{setup} [{source}]"
        s = setups.get(sid)
        if s is None:
            gpu, _, runtime = setup.partition(":")
            s = setups[sid] = {
                "id": sid,
                "gpu": _str(r.get("gpu")) or gpu,
                "runtime": _str(r.get("runtime")) or runtime,
                "precision": _str(r.get("precision")),
                "source": _str(r.get("source")),
                "simulated": simulated,
                "power_limit_w": _num(r.get("power_limit_w")),
                "_rows": {},
            }
        s["_rows"][i] = r
    return setups


def _setup_columns(s: dict[str, Any], flags: dict[int, str], curves: dict[int, dict[str, list]]) -> dict[str, Any]:
    """One setup's columns aligned with its model indices ``m``, its flags, intervals and batch curves."""
    rows = s.pop("_rows")
    order = sorted(rows)
    s["m"] = order
    s["e"] = [_num(rows[i].get("energy_per_image_j")) for i in order]
    s["tp"] = [_num(rows[i].get("throughput_ips"), 5) for i in order]
    s["lat"] = [_num(rows[i].get("latency_s"), 5) for i in order]
    s["bs"] = [_num(rows[i].get("batch_size")) for i in order]
    ci = [_num(rows[i].get("ci95_rel"), 3) for i in order]  # relative 95 % half-width; none for the paper's
    if any(v is not None for v in ci):
        s["ci"] = ci
    # checks run per setup name: a second source under the same name ("... [source]") is not checked
    s["flag"] = [] if s["simulated"] else [[i, why] for i, why in sorted(flags.items()) if i in rows]
    _add_curves(s, curves, order)
    return s


def _add_curves(setup: dict[str, Any], curves: dict[int, dict[str, list]], order: list[int]) -> None:
    """Attach batch curves (models of this setup only) and the confidence interval of each kept reading."""
    kept = {i: c for i, c in curves.items() if i in set(order)}
    if not kept:
        return
    setup["curves"] = {
        "m": sorted(kept),
        **{k: [[_num(v, 4) for v in kept[i][k]] for i in sorted(kept)] for k in ("bs", "e", "tp", "pw", "ci")},
    }
    # where a reading has no interval of its own, the interval of its kept batch's reading
    ci = setup.get("ci") or [None] * len(order)
    for k, (i, bs) in enumerate(zip(order, setup["bs"], strict=True)):
        c = kept.get(i)
        if ci[k] is None and c and bs in c["bs"]:
            ci[k] = _num(c["ci"][c["bs"].index(bs)], 3)
    setup["ci"] = ci


def _flags(energy: Any, catalogue: Any, index: dict[tuple[str, int], int]) -> dict[str, dict[int, str]]:
    """Setup -> model index -> the reasons its reading fails a consistency check ("; "-joined)."""
    from joulebench.analysis.consistency import suspect_reasons

    out: dict[str, dict[int, str]] = {}
    for r in _records(suspect_reasons(energy, catalogue)):
        i = index.get((str(r["model"]), int(r["img_size"])))
        if i is not None:
            out.setdefault(str(r["setup"]), {})[i] = str(r["message"])
    return out


def _stats_index(stats: Any) -> dict[tuple[str, int], dict[str, Any]]:
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in _records(stats):
        name, size = _str(r.get("model")), _num(r.get("img_size"))
        if name is not None and size is not None:
            out[(name, int(size))] = r
    return out


def _describe(key: tuple[str, int], cat: dict[str, Any], stats: dict[tuple[str, int], dict[str, Any]]) -> dict:
    """Catalogue facts for one configuration, filled from the stats table and the family table where missing."""
    out = dict(cat)
    st = stats.get(key, {})
    for col in ("params", "macs"):
        if _num(out.get(col)) is None:
            out[col] = st.get(col)
    if not (_str(out.get("type")) and _str(out.get("family"))) or _num(out.get("year")) is None:
        hit = _classify(key[0])
        if hit is not None:
            fam, typ = hit
            out["type"] = _str(out.get("type")) or typ
            out["family"] = _str(out.get("family")) or fam.name
            out["year"] = out.get("year") if _num(out.get("year")) is not None else fam.year
            if not _str(out.get("url")) and "." in key[0]:
                out["url"] = HF_MODEL_URL.format(model=key[0])
    return out


def _classify(model: str) -> Any:
    """(Family, type) from joulebench's family table, or None (unknown architecture or table not present)."""
    try:
        from joulebench.models.families import classify
    except ImportError:
        return None
    return classify(model.split(".")[0])


def _safe_url(v: Any) -> str | None:
    """Only http(s) links reach the page: a catalogue URL is opened on click."""
    s = _str(v)
    return s if s and s.lower().startswith(("https://", "http://")) else None


def payload_js(payload: dict[str, Any]) -> str:
    """The payload as a script that sets ``window.JB_DATA``.

    The JSON travels as one string given to ``JSON.parse``: browsers parse a large JSON string about twice as
    fast as the same object written as a script literal, which is most of the page's start-up on a slow CPU.
    ``</`` is escaped so that no name can close a script tag.
    """
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    literal = json.dumps(text, ensure_ascii=False)  # a JSON string is a valid JS string literal
    literal = literal.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"window.{DATA_GLOBAL}=JSON.parse({literal});\n"


def app_js() -> str:
    """The page's script: the modules of ``static/js`` joined in :data:`APP_MODULES` order inside one function.

    Raises:
        ConfigError: A module is missing (a broken install).
    """
    parts = ['/* joulebench explorer: built by joulebench.app.build from static/js (plain JS, no dependencies).\n'
             " * Security rule: data never reaches innerHTML; text from data goes through textContent or fillText. */",
             "(function () {", '"use strict";']  # fmt: skip
    for name in APP_MODULES:
        path = STATIC_DIR / "js" / name
        if not path.is_file():
            raise ConfigError(f"the explorer's script part {path} is missing: reinstall joulebench")
        parts.append(f"/* ---- {name} ---- */\n" + path.read_text(encoding="utf-8").rstrip("\n"))
    parts.append("})();\n")
    return "\n".join(parts)


def write_site(out_dir: str | Path, payload: dict[str, Any]) -> Path:
    """Write the static site (HTML, JS, CSS and ``data.js``) for ``payload`` into ``out_dir``.

    Args:
        out_dir: Target folder; created if missing. Existing site files are overwritten.
        payload: The output of :func:`build_payload`.

    Returns:
        The path of ``index.html``.

    Raises:
        ConfigError: ``out_dir`` exists and is not a folder.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"'{out}' is a file: give a folder to write the site into")
    out.mkdir(parents=True, exist_ok=True)
    for name in STATIC_FILES:
        shutil.copyfile(STATIC_DIR / name, out / name)
    (out / "app.js").write_text(app_js(), encoding="utf-8")
    (out / "data.js").write_text(payload_js(payload), encoding="utf-8")
    return out / "index.html"


def build_site(out_dir: str | Path, db: str | Path | None = None, dataset: Any = None, batches: Any = None) -> Path:
    """Build the explorer as a static, self-contained site: reference data plus the store's measurements.

    Args:
        out_dir: Folder to write ``index.html``, ``app.js``, ``style.css`` and ``data.js`` into.
        db: Results database whose own measurements join the reference data (None: the default store).
        dataset: A ready dataset view (skips loading, batch readings too; used by tests and benchmarks).
        batches: Per-batch readings to go with ``dataset`` (see :func:`build_payload`).

    Returns:
        The path of ``index.html``.
    """
    if dataset is None:
        from joulebench.data import load_dataset

        dataset = load_dataset(db=db)
        batches = load_batches(db)
    return write_site(out_dir, build_payload(dataset, batches))
