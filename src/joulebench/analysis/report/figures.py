"""The report's figures, drawn with matplotlib's Agg backend; :func:`.markup.png` embeds them in the page."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import ACC, ENERGY, pyplot

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

TYPE_COLOURS = {
    "CNN": "#1f77b4",
    "Transformer": "#d62728",
    "Hybrid CNN-Transformer": "#9467bd",
    "MLP": "#2ca02c",
}


def scatter(df, front, fit, centroids, setup: str, y: str = ACC, ylabel: str = "ImageNet top-1 (%)"):
    """Energy (log) against ``y`` per model, coloured by type, with type centres, the frontier and its fit."""
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


def hist_log(series: dict[str, np.ndarray], xlabel: str, title: str):
    """Step histograms of positive factors on a log axis, one per series, with a line at 1."""
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


def transfer(curves: pd.DataFrame):
    """Median transfer error against the number of shared calibration models, one line per setup pair."""
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


def heatmap(corr: pd.DataFrame, setups: Sequence[str]):
    """Spearman correlation of per-model energy between every two setups."""
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


def batch(curve: pd.DataFrame, label: str):
    """Energy per image, throughput, latency and power against batch size for one task."""
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
