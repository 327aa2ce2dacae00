"""A self-contained HTML report: figures (base64 PNG), tables and the numbers behind every figure (CSV).

Everything the report shows comes from the dataset passed in; nothing is fetched. User-provided strings
(model names, setups, families) are HTML-escaped everywhere.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from joulebench.analysis.carbon import add_carbon_columns
from joulebench.analysis.consistency import gpu_pairs, ratio_outliers, repeatabilities, summary_table
from joulebench.analysis.correlation import setup_correlations
from joulebench.analysis.effects import batch_curves, input_size_effect, runtime_reduction
from joulebench.analysis.estimators import cross_validate, naive_errors, throughput_errors, transfer_curve
from joulebench.analysis.fits import fit_frontier
from joulebench.analysis.frames import (
    ACC,
    ENERGY,
    ROBUST_TESTSETS,
    attach,
    check_choice,
    dedupe_energy,
    drop_test_models,
    energy_accuracy,
    parse_setup,
    pyplot,
    setups_of,
    static_facts,
)
from joulebench.analysis.frontier import frontier, frontier_families, type_centroids
from joulebench.analysis.robustness import drop_by, frontier_stability, robustness_frame
from joulebench.analysis.scores import rank
from joulebench.errors import ConfigError, JoulebenchError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

TARGETS = (80.0, 85.0, 88.0, 90.0)
TYPE_COLOURS = {
    "CNN": "#1f77b4",
    "Transformer": "#d62728",
    "Hybrid CNN-Transformer": "#9467bd",
    "MLP": "#2ca02c",
}


@dataclass
class Report:
    """The HTML text and the summary numbers behind it."""

    html: str
    summary: dict[str, Any] = field(default_factory=dict)

    def write(self, path: str | Path) -> Path:
        """Write the HTML to ``path`` (UTF-8) and return the path."""
        p = Path(path)
        p.write_text(self.html, encoding="utf-8")
        return p


# --------------------------------------------------------------------------------------------- html bits


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        a = abs(v)
        return f"{v:.4g}" if (a >= 1e-3 or a == 0) else f"{v:.3e}"
    return v


def _table(df: pd.DataFrame, max_rows: int | None = 40) -> str:
    d = df if max_rows is None else df.head(max_rows)
    more = f"<p class=note>{len(df) - len(d)} more rows in the CSV below.</p>" if len(d) < len(df) else ""
    body = d.map(_fmt) if hasattr(d, "map") else d.applymap(_fmt)
    return body.to_html(index=False, escape=True, border=0, classes="t", na_rep="") + more


def _csv(df: pd.DataFrame, name: str) -> str:
    text = df.to_csv(index=False, float_format="%.6g")
    return (
        f"<details><summary>numbers behind this ({_esc(name)}.csv, {len(df)} rows)</summary>"
        f"<pre class=csv data-name='{_esc(name)}'>{_esc(text)}</pre></details>"
    )


def _png(fig) -> str:
    plt = pyplot()
    buf = io.BytesIO()
    fig.tight_layout()  # cheaper than bbox_inches="tight", which draws every figure twice
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img alt='figure' src='data:image/png;base64,{data}'>"


def _kv(d: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(_fmt(v))}</td></tr>" for k, v in d.items())
    return f"<table class=t>{rows}</table>"


def _mj(j: float) -> str:
    return f"{j * 1e3:.4g} mJ"


CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;margin-top:2em}h3{margin-top:1.5em}
table.t{border-collapse:collapse;font-size:.85em;margin:.5em 0}
table.t th,table.t td{border:1px solid #ddd;padding:2px 6px;text-align:right}
table.t th{background:#f4f4f4}img{max-width:100%}
pre.csv{max-height:300px;overflow:auto;background:#f8f8f8;font-size:.75em}
.note{color:#666;font-size:.85em}.warn{color:#a40}
"""


# --------------------------------------------------------------------------------------------- figures


def _scatter(df, front, fit, centroids, setup: str, y: str = ACC, ylabel: str = "ImageNet top-1 (%)"):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    types = df["type"].fillna("unknown") if "type" in df.columns else None
    if types is None:
        ax.scatter(df[ENERGY] * 1e3, df[y], s=6, alpha=0.5, color="#888")
    else:
        for t, grp in df.groupby(types):
            ax.scatter(grp[ENERGY] * 1e3, grp[y], s=6, alpha=0.45, color=TYPE_COLOURS.get(t, "#888"), label=str(t))
    if centroids is not None:
        for _, c in centroids.iterrows():
            ax.scatter(
                c["centre_energy_j"] * 1e3,
                c["centre_accuracy"],
                s=160,
                marker="X",
                edgecolor="black",
                color=TYPE_COLOURS.get(c["type"], "#888"),
                zorder=5,
            )
    if front is not None and len(front):
        ax.step(front[ENERGY] * 1e3, front[y], where="post", color="black", lw=1.2, label="Pareto frontier")
    if fit is not None:
        xs = np.geomspace(fit.e_min, fit.e_max, 200)
        ax.plot(xs * 1e3, fit.predict(xs), color="orange", lw=2, label=f"nested-log fit (R²={fit.r2:.2f})")
    ax.set_xscale("log")
    ax.set_xlabel("energy per image (mJ, log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(setup)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def _hist_log(series: dict[str, np.ndarray], xlabel: str, title: str):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    allv = np.concatenate([v for v in series.values() if len(v)]) if series else np.array([1.0])
    bins = np.geomspace(max(allv.min(), 1e-3), allv.max() * 1.01, 40)
    for name, v in series.items():
        ax.hist(v, bins=bins, histtype="step", lw=1.5, label=name)
    ax.set_xscale("log")
    ax.axvline(1.0, color="grey", ls=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("models")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def _transfer_fig(curves: pd.DataFrame):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for (a, b), grp in curves.groupby(["setup_a", "setup_b"]):
        ax.plot(grp["k"], grp["mape_median"], marker="o", label=f"{a} → {b}")
    ax.set_xscale("log")
    ax.set_xlabel("shared calibration models k")
    ax.set_ylabel("median MAPE over repeats (%)")
    ax.set_title("Cross-setup transfer error")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def _heatmap(corr: pd.DataFrame, setups: Sequence[str]):
    plt = pyplot()
    m = np.eye(len(setups))
    idx = {s: i for i, s in enumerate(setups)}
    for _, r in corr.iterrows():
        i, j = idx[r["setup_a"]], idx[r["setup_b"]]
        m[i, j] = m[j, i] = r["spearman"]
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(setups), 1.2 + 1.0 * len(setups)))
    im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(setups)), setups, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(setups)), setups, fontsize=8)
    for i, j in itertools.product(range(len(setups)), repeat=2):
        ax.text(j, i, f"{m[i, j]:.3f}", ha="center", va="center", color="white" if m[i, j] < 0.6 else "black")
    fig.colorbar(im, ax=ax, label="Spearman ρ of energy")
    return fig


def _batch_fig(curve: pd.DataFrame, label: str):
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(14, 3))
    spec = [
        ("energy_per_image_j", "energy/image (mJ)", 1e3),
        ("throughput_ips", "throughput (img/s)", 1),
        ("latency_mean_s", "latency/batch (ms)", 1e3),
        ("avg_power_w", "average power (W)", 1),
    ]
    for ax, (col, name, scale) in zip(axes, spec, strict=True):
        if col in curve.columns:
            ax.plot(curve["batch_size"], curve[col] * scale, marker="o")
        if col == "avg_power_w" and "power_limit_w" in curve.columns and curve["power_limit_w"].notna().any():
            ax.axhline(float(curve["power_limit_w"].dropna().iloc[0]), color="red", ls="--", label="power limit")
            ax.legend(fontsize=7)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(label, fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------- sections


def _runtime_pairs(setups: Sequence[str]) -> list[tuple[str, str]]:
    """(baseline, optimised) pairs on the same GPU: torch-fp32 (else the first runtime) against the others."""
    by_gpu: dict[str, list[str]] = {}
    for s in setups:
        by_gpu.setdefault(parse_setup(s)[0], []).append(s)
    pairs = []
    for group in by_gpu.values():
        if len(group) < 2:
            continue
        base = next((s for s in group if s.endswith(":torch-fp32")), sorted(group)[0])
        pairs += [(base, s) for s in sorted(group) if s != base]
    return pairs


def _consistency(energy: pd.DataFrame, catalogue: pd.DataFrame | None, setups: Sequence[str]) -> tuple[str, dict]:
    """Section 7: repeated workloads per setup and ratio outliers between GPUs (HTML, summary)."""
    parts = [
        "<h2>7. Consistency of the energy data</h2>",
        "<p class=note>Tags of one architecture at one input size run the same computation, so their energies "
        "should agree: spread = highest / lowest energy of such a workload; pooled SD = within-workload standard "
        "deviation of log energy (about the relative noise of one measurement). Ratio outliers: models whose "
        "energy ratio between two GPUs of one runtime is more than 1.5× from the median ratio; when their "
        "identical siblings sit at the usual ratio, the reading is the odd one out. Energy per image × throughput "
        "is the average power a reading implies; when that ratio is off too (power_off_by), the reading whose "
        "power is far from its setup's usual share of the power limit is named in blame (docs/ANALYSIS.md).</p>",
    ]
    reps = repeatabilities(energy, setups, catalogue, skip_missing=True)
    notes = [s for s in setups if s not in {r.setup for r in reps}]  # no repeated workload: nothing to check
    summary: dict[str, Any] = {"repeatability": [r.to_dict() for r in reps], "ratio_outliers": []}
    if reps:
        table = summary_table(reps)
        parts.append("<h3>Identical workloads under several tags</h3>" + _table(table) + _csv(table, "repeatability"))
        for r in reps:
            bad = r.per_group[r.per_group["spread"] > r.threshold]
            if len(bad):
                parts.append(f"<h4>{_esc(r.setup)}: workloads whose tags disagree by more than {r.threshold:g}×</h4>")
                parts.append(_table(bad, 10) + _csv(r.per_group, f"repeated-workloads-{r.setup}"))
    if notes:
        parts.append(
            "<p class=note>No workload measured under two or more tags on: " + ", ".join(map(_esc, notes)) + ".</p>"
        )
    for s, ref in gpu_pairs(setups):
        try:
            o = ratio_outliers(energy, s, ref)
        except ConfigError as exc:
            parts.append(f"<p class=warn>{_esc(exc)}</p>")
            continue
        summary["ratio_outliers"].append(o.to_dict())
        parts.append(
            f"<h3>{_esc(s)} / {_esc(ref)}: median ratio {o.median_ratio:.3f} over {o.n} models; "
            f"{o.low} below and {o.high} above it by more than {o.factor:g}×; implied power names the reading "
            f"that is off for {o.blamed}</h3>"
        )
        if len(o.outliers):
            parts.append(_table(o.outliers, 20) + _csv(o.outliers, f"ratio-outliers-{s}-{ref}"))
    return "\n".join(parts), summary


def build_report(
    energy: pd.DataFrame,
    accuracy: pd.DataFrame,
    catalogue: pd.DataFrame | None = None,
    stats: pd.DataFrame | None = None,
    setups: Sequence[str] | None = None,
    measurements: pd.DataFrame | None = None,
    intensity_g_per_kwh: float | None = None,
    price_per_kwh: float | None = None,
    currency: str = "",
    include_test_models: bool = False,
    weight: float = 0.5,
    cv_folds: int = 5,
    command: str = "",
) -> Report:
    """Build the HTML report for ``setups`` (default: every setup in ``energy``).

    Args:
        energy: The dataset view's energy table.
        accuracy: Its accuracy table.
        catalogue: Its catalogue (type, family, statistics), or None.
        stats: Its computed statistics table, or None.
        setups: Setups to report on (ConfigError lists the available ones when one is unknown).
        measurements: Per-batch store rows for batch-size curves (None or empty: that section says so).
        intensity_g_per_kwh: Grid intensity for the carbon columns of the ranking tables (None: none).
        price_per_kwh: Electricity price for the cost columns (None: none).
        currency: Label of the price's currency.
        include_test_models: Keep timm's ``test_*`` models (untrained fixtures; dropped by default).
        weight: W of the Manhattan score in the ranking tables.
        cv_folds: Folds of the estimator cross-validation.
        command: The command line that made the report (printed in it).
    """
    avail = setups_of(energy)
    setups = list(setups) if setups else avail
    for s in setups:
        check_choice(s, avail, "setup")
    if not include_test_models:
        energy = drop_test_models(energy)
    summary: dict[str, Any] = {"setups": setups, "per_setup": {}}
    parts: list[str] = []
    facts = static_facts(catalogue, stats)

    # 1. energy vs accuracy ------------------------------------------------------------------------
    parts.append("<h2>1. Energy against ImageNet accuracy</h2>")
    parts.append(
        "<p class=note>Each point is a model configuration (timm tag + input size) at its most energy-efficient "
        "batch. Crosses mark architecture-type centres (geometric-mean energy, mean accuracy). The black step line "
        "is the Pareto frontier (least energy for at least this accuracy); the orange curve is "
        "A(E) = a + b·ln(1 + c·ln(E/E<sub>min</sub>)) fitted to it (docs/ANALYSIS.md).</p>"
    )
    frames: dict[str, pd.DataFrame] = {}
    for s in setups:
        df = energy_accuracy(energy, accuracy, s, ["imagenet"], catalogue, stats)
        frames[s] = df
        info: dict[str, Any] = {"models": len(df)}
        parts.append(f"<h3>{_esc(s)}</h3>")
        if len(df) == 0:
            parts.append("<p class=warn>No model has both energy and ImageNet accuracy on this setup.</p>")
            summary["per_setup"][s] = info
            continue
        front = frontier(df)
        cents = type_centroids(df) if "type" in df.columns else None
        try:
            fit = fit_frontier(front)
        except ConfigError as exc:
            fit = None
            parts.append(f"<p class=warn>{_esc(exc)}</p>")
        parts.append(_png(_scatter(df, front, fit, cents, s)))
        info["frontier_models"] = len(front)
        if fit is not None:
            info["fit"] = fit.to_dict()
            preds = []
            for t in TARGETS:
                try:
                    p = fit.energy_for(t)
                    preds.append({"target_%": t, "energy_per_image_j": p.energy_per_image_j, "note": p.message})
                except ConfigError as exc:
                    preds.append({"target_%": t, "energy_per_image_j": float("nan"), "note": str(exc)})
            info["energy_for_target"] = {str(p["target_%"]): p["energy_per_image_j"] for p in preds}
            parts.append("<h4>Fitted curve</h4>" + _kv(fit.to_dict()))
            import pandas as pd

            parts.append("<h4>Energy the curve predicts for a target accuracy</h4>" + _table(pd.DataFrame(preds)))
        if cents is not None:
            info["centroids"] = cents[["type", "n", "centre_energy_j", "centre_accuracy"]].to_dict("records")
            parts.append("<h4>Architecture-type centres</h4>" + _table(cents))
        fams = frontier_families(front)
        info["frontier_families"] = fams.head(5)["family"].tolist()
        parts.append("<h4>Families on the frontier</h4>" + _table(fams))
        cols = [c for c in ("model", "img_size", "type", "family", ENERGY, ACC) if c in df.columns]
        data = df[cols].assign(on_frontier=df["model"].isin(front["model"]) & df["img_size"].isin(front["img_size"]))
        parts.append(_csv(data, f"energy-accuracy-{s}"))
        summary["per_setup"][s] = info

    # 2. robustness ---------------------------------------------------------------------------------
    parts.append("<h2>2. Robustness</h2>")
    parts.append(
        "<p class=note>Robust accuracy = mean top-1 over "
        + ", ".join(ROBUST_TESTSETS)
        + " (the five shifted sets; the -clean subsets only re-measure ImageNet classes and are left out). "
        "Drop = ImageNet top-1 minus robust accuracy. 'near' = within 1 accuracy point of that set's frontier "
        "at the model's energy.</p>"
    )
    for s in setups:
        try:
            rf = robustness_frame(energy, accuracy, s, facts)
        except ConfigError as exc:
            parts.append(f"<p class=warn>{_esc(s)}: {_esc(exc)}</p>")
            continue
        parts.append(f"<h3>{_esc(s)}</h3>")
        if len(rf) < 2:
            parts.append("<p class=warn>Too few models with accuracy on all robustness sets.</p>")
            continue
        rfa = rf.assign(**{ACC: rf["robust_mean"]})
        parts.append(_png(_scatter(rfa, frontier(rfa), None, None, s, ylabel="mean top-1 over 5 shifted sets (%)")))
        stab = frontier_stability(rf)
        by_type = drop_by(rf, "type")
        by_dec = drop_by(rf, "energy_decile")
        parts.append("<h4>Accuracy drop by architecture type</h4>" + _table(by_type))
        parts.append("<h4>Accuracy drop by energy decile (1 = cheapest)</h4>" + _table(by_dec))
        parts.append("<h4>Does the ImageNet frontier stay efficient?</h4>" + _table(stab))
        cols = [c for c in ("model", "img_size", "type", ENERGY, "imagenet", *ROBUST_TESTSETS, "robust_mean", "drop")]
        parts.append(_csv(rf[[c for c in cols if c in rf.columns]], f"robustness-{s}"))
        summary["per_setup"].setdefault(s, {})["robustness"] = {
            "models": len(rf),
            "mean_drop": float(rf["drop"].mean()),
            "drop_by_type": dict(zip(by_type.iloc[:, 0].astype(str), by_type["mean_drop"], strict=True)),
            "frontier_on_fraction": dict(zip(stab["testset"], stab["on_fraction"], strict=True)),
            "frontier_near_fraction": dict(zip(stab["testset"], stab["near_fraction"], strict=True)),
        }

    # 3. correlations -------------------------------------------------------------------------------
    parts.append("<h2>3. Cross-setup agreement of per-model energy</h2>")
    if len(setups) >= 2:
        corr = setup_correlations(energy, setups)
        parts.append(_png(_heatmap(corr, setups)))
        parts.append(_table(corr) + _csv(corr, "correlations"))
        summary["correlations"] = corr.to_dict("records")
    else:
        parts.append("<p class=note>Needs at least two setups.</p>")

    # 4. estimators ---------------------------------------------------------------------------------
    parts.append("<h2>4. Energy estimators</h2>")
    parts.append(
        "<p class=note>naive = 2·MACs / peak FLOP/s × power limit (datasheet peaks, see docs/ANALYSIS.md); "
        "throughput = power limit / measured throughput; log-linear = log E on log params, MACs, activations; "
        f"boosted-static = gradient-boosted trees on static model facts. Cross-validation: {cv_folds} folds "
        "grouped by architecture, the same folds for both regressions.</p>"
    )
    est_rows = []
    factors: dict[str, np.ndarray] = {}
    for s in setups:
        base = dedupe_energy(energy[energy["setup"] == s])
        d = attach(base, facts)
        row: dict[str, Any] = {"setup": s}
        try:
            nd, ns = naive_errors(d)
            factors[s] = nd["underestimation"].to_numpy()
            row.update(
                {
                    "naive_n": ns["n"],
                    "naive_geomean_underestimation": ns["geomean"],
                    "naive_median": ns["median"],
                    "naive_mape": ns["mape"],
                }
            )
        except JoulebenchError as exc:
            row["naive_note"] = str(exc)
        try:
            te = throughput_errors(d)
            row.update({"throughput_n": te["n"], "throughput_mape": te["mape"]})
        except JoulebenchError as exc:
            row["throughput_note"] = str(exc)
        try:
            cv = cross_validate(d, k=cv_folds)
            row["cv_n"] = int(cv["n"].iloc[0])
            for _, r in cv.iterrows():
                row[f"{r['estimator']}_cv_mape"] = r["mape"]
                row[f"{r['estimator']}_cv_median_ape"] = r["median_ape"]
        except JoulebenchError as exc:
            row["cv_note"] = str(exc)
        est_rows.append(row)
    import pandas as pd

    est = pd.DataFrame(est_rows)
    parts.append(_table(est) + _csv(est, "estimator-errors"))
    summary["estimators"] = est_rows
    if factors:
        parts.append(_png(_hist_log(factors, "measured / naive estimate (underestimation factor)", "Naive estimator")))
        parts.append(
            _csv(
                pd.DataFrame([(k, v) for k, vs in factors.items() for v in vs], columns=["setup", "underestimation"]),
                "naive-underestimation",
            )
        )
    if len(setups) >= 2:
        curves = pd.concat(
            [transfer_curve(energy, a, b) for a, b in itertools.combinations(setups, 2)], ignore_index=True
        )
        parts.append("<h3>Cross-setup transfer with k shared models</h3>")
        parts.append(_png(_transfer_fig(curves)) + _table(curves, None) + _csv(curves, "transfer"))
        summary["transfer"] = curves[curves["k"].isin([1, 5, 20])].to_dict("records")

    # 5. effects ------------------------------------------------------------------------------------
    parts.append("<h2>5. Runtime and configuration effects</h2>")
    red_rows = []
    reds = {}
    for b, o in _runtime_pairs(setups):
        try:
            r = runtime_reduction(energy, b, o)
        except ConfigError as exc:
            parts.append(f"<p class=warn>{_esc(exc)}</p>")
            continue
        red_rows.append(r.to_dict())
        reds[f"{o} vs {b}"] = r.per_model["factor"].to_numpy()
    if red_rows:
        parts.append(_png(_hist_log(reds, "energy reduction factor (baseline / optimised)", "Runtime effect")))
        rt = pd.DataFrame(red_rows)
        parts.append(_table(rt) + _csv(rt, "runtime-reduction"))
        summary["runtime_reduction"] = red_rows
    else:
        parts.append("<p class=note>No pair of runtimes on one GPU among the chosen setups.</p>")
    ise = pd.concat([input_size_effect(energy, s) for s in setups], ignore_index=True)
    parts.append("<h3>Input size</h3>")
    if len(ise):
        ise_sum = (
            ise.groupby("setup")["exponent"]
            .describe(percentiles=[0.25, 0.5, 0.75])[["count", "25%", "50%", "75%"]]
            .reset_index()
            .rename(columns={"count": "architectures", "50%": "median_exponent"})
        )
        parts.append(
            "<p class=note>Exponent k of E ∝ pixels<sup>k</sup> for architectures measured at several sizes.</p>"
            + _table(ise_sum)
            + _csv(ise, "input-size")
        )
        summary["input_size_exponent_median"] = dict(zip(ise_sum["setup"], ise_sum["median_exponent"], strict=True))
    else:
        parts.append("<p class=note>No architecture is measured at several input sizes.</p>")
    parts.append("<h3>Batch size</h3>")
    curves_b = batch_curves(measurements) if measurements is not None and len(measurements) else None
    if curves_b is None or curves_b.empty:
        parts.append("<p class=note>No per-batch measurements in the store (run `joulebench measure` first).</p>")
    else:
        keys = [c for c in ("model", "img_size", "runtime", "gpu_name") if c in curves_b.columns]
        for i, (key, grp) in enumerate(curves_b.groupby(keys, dropna=False)):
            if i >= 12:
                parts.append("<p class=note>Only the first 12 curves are drawn; all are in the CSV.</p>")
                break
            parts.append(_png(_batch_fig(grp, " · ".join(map(str, key if isinstance(key, tuple) else (key,))))))
        parts.append(_csv(curves_b, "batch-curves"))

    # 6. ranking ------------------------------------------------------------------------------------
    parts.append("<h2>6. Most efficient models</h2>")
    parts.append(
        f"<p class=note>Score = 100 − (W·100·E/N + (1−W)·(100−A)), W = {weight:g}, N = largest energy of the setup. "
        "Carbon/cost per million images from the given intensity and price (GPU board energy only).</p>"
    )
    for s, df in frames.items():
        if df.empty:
            continue
        r = rank(df, "manhattan", weight, limit=10)
        t = add_carbon_columns(r.table, intensity_g_per_kwh, price_per_kwh)
        cols = [
            c
            for c in (
                "rank",
                "model",
                "img_size",
                "type",
                ACC,
                ENERGY,
                "score",
                "kwh_per_million",
                "kg_co2e_per_million",
                "cost_per_million",
            )
            if c in t.columns
        ]
        t = t[cols].rename(
            columns={"cost_per_million": f"cost_per_million_{currency}" if currency else "cost_per_million"}
        )
        parts.append(f"<h3>{_esc(s)}</h3>" + _table(t))
        summary["per_setup"].setdefault(s, {})["top3"] = r.table["model"].head(3).tolist()

    # 7. consistency ------------------------------------------------------------------------------
    html_part, summary["consistency"] = _consistency(energy, catalogue, setups)
    parts.append(html_part)

    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>joulebench report</title>"
        f"<style>{CSS}</style></head><body><h1>joulebench report</h1>"
        f"<p class=note>Generated {when}"
        + (f" by <code>{_esc(command)}</code>" if command else "")
        + ". Setups: "
        + ", ".join(_esc(s) for s in setups)
        + ("." if include_test_models else ". timm's untrained test_* models are left out.")
        + "</p>"
    )
    sources = sorted(energy["source"].dropna().unique()) if "source" in energy.columns else []
    if sources:
        head += "<p class=note>Energy sources: " + ", ".join(_esc(x) for x in sources) + ".</p>"
    return Report(head + "\n".join(parts) + "</body></html>", summary)
