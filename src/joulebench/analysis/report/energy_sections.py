"""Report sections on energy alone: agreement between setups, estimators, runtime and size effects, consistency."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from joulebench.analysis.consistency import gpu_pairs, ratio_outliers, repeatabilities, summary_table
from joulebench.analysis.correlation import setup_correlations
from joulebench.analysis.effects import batch_curves, input_size_effect, runtime_reduction
from joulebench.analysis.estimators import cross_validate, naive_errors, throughput_errors, transfer_curve
from joulebench.analysis.frames import attach, dedupe_energy
from joulebench.analysis.report import figures
from joulebench.analysis.report.inputs import ReportInput, Summary, runtime_pairs
from joulebench.analysis.report.markup import csv, esc, png, table
from joulebench.errors import ConfigError, JoulebenchError

_CONSISTENCY_NOTE = (
    "<p class=note>Tags of one architecture at one input size run the same computation, so their energies "
    "should agree: spread = highest / lowest energy of such a workload; pooled SD = within-workload standard "
    "deviation of log energy (about the relative noise of one measurement). Ratio outliers: models whose "
    "energy ratio between two GPUs of one runtime is more than 1.5× from the median ratio; when their "
    "identical siblings sit at the usual ratio, the reading is the odd one out. Energy per image × throughput "
    "is the average power a reading implies; when that ratio is off too (power_off_by), the reading whose "
    "power is far from its setup's usual share of the power limit is named in blame (docs/ANALYSIS.md).</p>"
)
#: Batch-size curves drawn at most; the CSV has them all.
_MAX_BATCH_FIGURES = 12


def correlations_section(inp: ReportInput, summary: Summary) -> str:
    """Section 3: Spearman correlation of per-model energy between every two setups."""
    parts = ["<h2>3. Cross-setup agreement of per-model energy</h2>"]
    if len(inp.setups) >= 2:
        corr = setup_correlations(inp.energy, inp.setups)
        parts.append(png(figures.heatmap(corr, inp.setups)))
        parts.append(table(corr) + csv(corr, "correlations"))
        summary["correlations"] = corr.to_dict("records")
    else:
        parts.append("<p class=note>Needs at least two setups.</p>")
    return "\n".join(parts)


def estimators_section(inp: ReportInput, summary: Summary) -> str:
    """Section 4: the estimators' errors per setup, the naive estimator's underestimation, cross-setup transfer."""
    parts = [
        "<h2>4. Energy estimators</h2>",
        "<p class=note>naive = 2·MACs / tensor-core peak FLOP/s × power limit (datasheet peaks, see docs/ANALYSIS.md; "
        "no bound: measured / naive below 1 means it is too high, the share of such models is naive_overestimated; "
        "section 8 gives the paper's convention); "
        "throughput = power limit / measured throughput; log-linear = log E on log params, MACs, activations; "
        f"boosted-static = gradient-boosted trees on static model facts. Cross-validation: {inp.cv_folds} folds "
        "grouped by architecture, the same folds for both regressions.</p>",
    ]
    factors: dict[str, np.ndarray] = {}
    est_rows = [_estimator_errors(inp, s, factors) for s in inp.setups]
    est = pd.DataFrame(est_rows)
    parts.append(table(est) + csv(est, "estimator-errors"))
    summary["estimators"] = est_rows
    if factors:
        xlabel = "measured / naive estimate (above 1: naive too low; below 1: too high)"
        parts.append(png(figures.hist_log(factors, xlabel, "Naive estimator")))
        rows = [(k, v) for k, vs in factors.items() for v in vs]
        parts.append(csv(pd.DataFrame(rows, columns=["setup", "underestimation"]), "naive-underestimation"))
    if len(inp.setups) >= 2:
        pairs = itertools.combinations(inp.setups, 2)
        curves = pd.concat([transfer_curve(inp.energy, a, b) for a, b in pairs], ignore_index=True)
        parts.append("<h3>Cross-setup transfer with k shared models</h3>")
        parts.append(png(figures.transfer(curves)) + table(curves, None) + csv(curves, "transfer"))
        summary["transfer"] = curves[curves["k"].isin([1, 5, 20])].to_dict("records")
    return "\n".join(parts)


def _estimator_errors(inp: ReportInput, s: str, factors: dict[str, np.ndarray]) -> dict[str, Any]:
    """One setup's row of estimator errors (a note instead where one cannot run); naive factors go to ``factors``."""
    d = attach(dedupe_energy(inp.energy[inp.energy["setup"] == s]), inp.facts)
    row: dict[str, Any] = {"setup": s}
    try:
        nd, ns = naive_errors(d)
        factors[s] = nd["underestimation"].to_numpy()
        row.update(
            {
                "naive_n": ns["n"],
                "naive_geomean_underestimation": ns["geomean"],
                "naive_median": ns["median"],
                "naive_overestimated": ns["overestimated"],
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
        cv = cross_validate(d, k=inp.cv_folds)
        row["cv_n"] = int(cv["n"].iloc[0])
        for _, r in cv.iterrows():
            row[f"{r['estimator']}_cv_mape"] = r["mape"]
            row[f"{r['estimator']}_cv_median_ape"] = r["median_ape"]
    except JoulebenchError as exc:
        row["cv_note"] = str(exc)
    return row


def effects_section(inp: ReportInput, summary: Summary) -> str:
    """Section 5: the energy a runtime saves against its GPU's baseline, then the input-size and batch-size effects."""
    parts = ["<h2>5. Runtime and configuration effects</h2>"]
    red_rows = []
    reds = {}
    for b, o in runtime_pairs(inp.setups):
        try:
            r = runtime_reduction(inp.energy, b, o)
        except ConfigError as exc:
            parts.append(f"<p class=warn>{esc(exc)}</p>")
            continue
        red_rows.append(r.to_dict())
        reds[f"{o} vs {b}"] = r.per_model["factor"].to_numpy()
    if red_rows:
        parts.append(png(figures.hist_log(reds, "energy reduction factor (baseline / optimised)", "Runtime effect")))
        rt = pd.DataFrame(red_rows)
        parts.append(table(rt) + csv(rt, "runtime-reduction"))
        summary["runtime_reduction"] = red_rows
    else:
        parts.append("<p class=note>No pair of runtimes on one GPU among the chosen setups.</p>")
    parts += _input_size(inp, summary)
    parts += _batch_size(inp.measurements)
    return "\n".join(parts)


def _input_size(inp: ReportInput, summary: Summary) -> list[str]:
    """The exponent k of E ∝ pixels^k per setup, over architectures measured at several sizes."""
    ise = pd.concat([input_size_effect(inp.energy, s) for s in inp.setups], ignore_index=True)
    parts = ["<h3>Input size</h3>"]
    if not len(ise):
        return [*parts, "<p class=note>No architecture is measured at several input sizes.</p>"]
    ise = ise.assign(exponent=pd.to_numeric(ise["exponent"], errors="coerce"))  # object dtype when a part is empty
    ise_sum = (
        ise.groupby("setup")["exponent"]
        .describe(percentiles=[0.25, 0.5, 0.75])[["count", "25%", "50%", "75%"]]
        .reset_index()
        .rename(columns={"count": "architectures", "50%": "median_exponent"})
    )
    parts.append(
        "<p class=note>Exponent k of E ∝ pixels<sup>k</sup> for architectures measured at several sizes.</p>"
        + table(ise_sum)
        + csv(ise, "input-size")
    )
    summary["input_size_exponent_median"] = dict(zip(ise_sum["setup"], ise_sum["median_exponent"], strict=True))
    return parts


def _batch_size(measurements: pd.DataFrame | None) -> list[str]:
    """Energy, throughput, latency and power against batch size for each measured task in the store."""
    parts = ["<h3>Batch size</h3>"]
    curves = batch_curves(measurements) if measurements is not None and len(measurements) else None
    if curves is None or curves.empty:
        return [*parts, "<p class=note>No per-batch measurements in the store (run `joulebench measure` first).</p>"]
    keys = [c for c in ("model", "img_size", "runtime", "gpu_name") if c in curves.columns]
    for i, (key, grp) in enumerate(curves.groupby(keys, dropna=False)):
        if i >= _MAX_BATCH_FIGURES:
            parts.append(f"<p class=note>Only the first {_MAX_BATCH_FIGURES} curves are drawn; all are in the CSV.</p>")
            break
        parts.append(png(figures.batch(grp, " · ".join(map(str, key if isinstance(key, tuple) else (key,))))))
    parts.append(csv(curves, "batch-curves"))
    return parts


def consistency_section(energy: pd.DataFrame, catalogue: pd.DataFrame | None, setups: list[str]) -> tuple[str, dict]:
    """Section 7: repeated workloads per setup and ratio outliers between GPUs (HTML, summary)."""
    parts = ["<h2>7. Consistency of the energy data</h2>", _CONSISTENCY_NOTE]
    reps = repeatabilities(energy, setups, catalogue, skip_missing=True)
    notes = [s for s in setups if s not in {r.setup for r in reps}]  # no repeated workload: nothing to check
    summary: dict[str, Any] = {"repeatability": [r.to_dict() for r in reps], "ratio_outliers": []}
    if reps:
        tab = summary_table(reps)
        parts.append("<h3>Identical workloads under several tags</h3>" + table(tab) + csv(tab, "repeatability"))
        for r in reps:
            bad = r.per_group[r.per_group["spread"] > r.threshold]
            if len(bad):
                parts.append(f"<h4>{esc(r.setup)}: workloads whose tags disagree by more than {r.threshold:g}×</h4>")
                parts.append(table(bad, 10) + csv(r.per_group, f"repeated-workloads-{r.setup}"))
    if notes:
        parts.append(
            "<p class=note>No workload measured under two or more tags on: " + ", ".join(map(esc, notes)) + ".</p>"
        )
    for s, ref in gpu_pairs(setups):
        try:
            o = ratio_outliers(energy, s, ref)
        except ConfigError as exc:
            parts.append(f"<p class=warn>{esc(exc)}</p>")
            continue
        summary["ratio_outliers"].append(o.to_dict())
        parts.append(
            f"<h3>{esc(s)} / {esc(ref)}: median ratio {o.median_ratio:.3f} over {o.n} models; "
            f"{o.low} below and {o.high} above it by more than {o.factor:g}×; implied power names the reading "
            f"that is off for {o.blamed}</h3>"
        )
        if len(o.outliers):
            parts.append(table(o.outliers, 20) + csv(o.outliers, f"ratio-outliers-{s}-{ref}"))
    return "\n".join(parts), summary
