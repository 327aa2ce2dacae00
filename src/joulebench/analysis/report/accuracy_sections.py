"""Report sections on accuracy: energy against ImageNet accuracy, robustness, and the ranking of the best models."""

from __future__ import annotations

from typing import Any

import pandas as pd

from joulebench.analysis.carbon import add_carbon_columns
from joulebench.analysis.fits import FrontierFit, fit_frontier
from joulebench.analysis.frames import ACC, ENERGY, ROBUST_TESTSETS, energy_accuracy
from joulebench.analysis.frontier import frontier, frontier_families, type_centroids
from joulebench.analysis.report import figures
from joulebench.analysis.report.inputs import ReportInput, Summary
from joulebench.analysis.report.markup import csv, esc, kv, png, table
from joulebench.analysis.robustness import drop_by, frontier_stability, robustness_frame
from joulebench.analysis.scores import rank
from joulebench.errors import ConfigError

#: Accuracies (%) for which the fitted curve's energy is tabulated.
TARGETS = (80.0, 85.0, 88.0, 90.0)

_ENERGY_ACCURACY_NOTE = (
    "<p class=note>Each point is a model configuration (timm tag + input size) at its most energy-efficient "
    "batch. Crosses mark architecture-type centres (geometric-mean energy, mean accuracy). The black step line "
    "is the Pareto frontier (least energy for at least this accuracy); the orange curve is "
    "A(E) = a + b·ln(1 + c·ln(E/E<sub>min</sub>)) fitted to it (docs/ANALYSIS.md).</p>"
)
_ROBUSTNESS_NOTE = (
    "<p class=note>Robust accuracy = mean top-1 over "
    + ", ".join(ROBUST_TESTSETS)
    + " (the five shifted sets; the -clean subsets only re-measure ImageNet classes and are left out). "
    "Drop = ImageNet top-1 minus robust accuracy. 'near' = within 1 accuracy point of that set's frontier "
    "at the model's energy.</p>"
)
_RANK_COLUMNS = (
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


def energy_accuracy_section(inp: ReportInput, summary: Summary) -> str:
    """Section 1: per setup, the scatter with its frontier and fit, type centres and frontier families.

    Fills ``inp.frames`` (the ranking's input) and ``summary["per_setup"]``.
    """
    parts = ["<h2>1. Energy against ImageNet accuracy</h2>", _ENERGY_ACCURACY_NOTE]
    for s in inp.setups:
        df = energy_accuracy(inp.energy, inp.accuracy, s, ["imagenet"], inp.catalogue, inp.stats)
        inp.frames[s] = df
        info: dict[str, Any] = {"models": len(df)}
        parts.append(f"<h3>{esc(s)}</h3>")
        if len(df) == 0:
            parts.append("<p class=warn>No model has both energy and ImageNet accuracy on this setup.</p>")
        else:
            parts += _energy_accuracy_of(df, s, info)
        summary["per_setup"][s] = info
    return "\n".join(parts)


def _energy_accuracy_of(df: pd.DataFrame, s: str, info: dict[str, Any]) -> list[str]:
    """Section 1's parts for one setup's non-empty frame ``df``; its numbers go to ``info``."""
    parts = []
    front = frontier(df)
    cents = type_centroids(df) if "type" in df.columns else None
    try:
        fit = fit_frontier(front)
    except ConfigError as exc:
        fit = None
        parts.append(f"<p class=warn>{esc(exc)}</p>")
    parts.append(png(figures.scatter(df, front, fit, cents, s)))
    info["frontier_models"] = len(front)
    if fit is not None:
        parts += _fit_tables(fit, info)
    if cents is not None:
        info["centroids"] = cents[["type", "n", "centre_energy_j", "centre_accuracy"]].to_dict("records")
        parts.append("<h4>Architecture-type centres</h4>" + table(cents))
    fams = frontier_families(front)
    info["frontier_families"] = fams.head(5)["family"].tolist()
    parts.append("<h4>Families on the frontier</h4>" + table(fams))
    cols = [c for c in ("model", "img_size", "type", "family", ENERGY, ACC) if c in df.columns]
    data = df[cols].assign(on_frontier=df["model"].isin(front["model"]) & df["img_size"].isin(front["img_size"]))
    parts.append(csv(data, f"energy-accuracy-{s}"))
    return parts


def _fit_tables(fit: FrontierFit, info: dict[str, Any]) -> list[str]:
    """The fitted curve's parameters and the energy it predicts for each of :data:`TARGETS`."""
    info["fit"] = fit.to_dict()
    preds = []
    for t in TARGETS:
        try:
            p = fit.energy_for(t)
            preds.append({"target_%": t, "energy_per_image_j": p.energy_per_image_j, "note": p.message})
        except ConfigError as exc:
            preds.append({"target_%": t, "energy_per_image_j": float("nan"), "note": str(exc)})
    info["energy_for_target"] = {str(p["target_%"]): p["energy_per_image_j"] for p in preds}
    return [
        "<h4>Fitted curve</h4>" + kv(fit.to_dict()),
        "<h4>Energy the curve predicts for a target accuracy</h4>" + table(pd.DataFrame(preds)),
    ]


def robustness_section(inp: ReportInput, summary: Summary) -> str:
    """Section 2: accuracy on the shifted test sets against energy, the drop by type and decile, frontier stability."""
    parts = ["<h2>2. Robustness</h2>", _ROBUSTNESS_NOTE]
    for s in inp.setups:
        try:
            rf = robustness_frame(inp.energy, inp.accuracy, s, inp.facts)
        except ConfigError as exc:
            parts.append(f"<p class=warn>{esc(s)}: {esc(exc)}</p>")
            continue
        parts.append(f"<h3>{esc(s)}</h3>")
        if len(rf) < 2:
            parts.append("<p class=warn>Too few models with accuracy on all robustness sets.</p>")
            continue
        rfa = rf.assign(**{ACC: rf["robust_mean"]})
        ylabel = "mean top-1 over 5 shifted sets (%)"
        parts.append(png(figures.scatter(rfa, frontier(rfa), None, None, s, ylabel=ylabel)))
        stab = frontier_stability(rf)
        by_type = drop_by(rf, "type")
        by_dec = drop_by(rf, "energy_decile")
        parts.append("<h4>Accuracy drop by architecture type</h4>" + table(by_type))
        parts.append("<h4>Accuracy drop by energy decile (1 = cheapest)</h4>" + table(by_dec))
        parts.append("<h4>Does the ImageNet frontier stay efficient?</h4>" + table(stab))
        cols = [c for c in ("model", "img_size", "type", ENERGY, "imagenet", *ROBUST_TESTSETS, "robust_mean", "drop")]
        parts.append(csv(rf[[c for c in cols if c in rf.columns]], f"robustness-{s}"))
        summary["per_setup"].setdefault(s, {})["robustness"] = {
            "models": len(rf),
            "mean_drop": float(rf["drop"].mean()),
            "drop_by_type": dict(zip(by_type.iloc[:, 0].astype(str), by_type["mean_drop"], strict=True)),
            "frontier_on_fraction": dict(zip(stab["testset"], stab["on_fraction"], strict=True)),
            "frontier_near_fraction": dict(zip(stab["testset"], stab["near_fraction"], strict=True)),
        }
    return "\n".join(parts)


def ranking_section(inp: ReportInput, summary: Summary) -> str:
    """Section 6: the ten best models of each setup by the Manhattan score, with carbon and cost per million."""
    parts = [
        "<h2>6. Most efficient models</h2>",
        f"<p class=note>Score = 100 − (W·100·E/N + (1−W)·(100−A)), W = {inp.weight:g}, N = largest energy of the "
        "setup. Carbon/cost per million images from the given intensity and price (GPU board energy only).</p>",
    ]
    cost = f"cost_per_million_{inp.currency}" if inp.currency else "cost_per_million"
    for s, df in inp.frames.items():
        if df.empty:
            continue
        r = rank(df, "manhattan", inp.weight, limit=10)
        t = add_carbon_columns(r.table, inp.intensity_g_per_kwh, inp.price_per_kwh)
        t = t[[c for c in _RANK_COLUMNS if c in t.columns]].rename(columns={"cost_per_million": cost})
        parts.append(f"<h3>{esc(s)}</h3>" + table(t))
        summary["per_setup"].setdefault(s, {})["top3"] = r.table["model"].head(3).tolist()
    return "\n".join(parts)
