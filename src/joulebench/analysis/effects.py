"""Runtime and configuration effects: optimised vs baseline setup, input size, batch size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import ENERGY, arch_of, dedupe_energy, need, paired_setups

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass(frozen=True)
class Reduction:
    """Per-model energy reduction factor (baseline / optimised energy) and its distribution.

    Attributes:
        baseline, optimised: The two setups.
        n: Models measured on both.
        geomean: Geometric mean of the factor (2.0 = half the energy).
        gsd: Geometric standard deviation (multiplicative spread, >= 1).
        quantiles: p05, p25, median, p75, p95 of the factor.
        fraction_worse: Share of models where the optimised setup spends more energy.
        per_model: ``model, img_size, energy_a (baseline), energy_b (optimised), factor, saving`` rows.
    """

    baseline: str
    optimised: str
    n: int
    geomean: float
    gsd: float
    quantiles: dict[str, float]
    fraction_worse: float
    per_model: pd.DataFrame

    def to_dict(self) -> dict:
        """Summary without the per-model table."""
        return {
            "baseline": self.baseline,
            "optimised": self.optimised,
            "n": self.n,
            "geomean_factor": self.geomean,
            "gsd": self.gsd,
            "mean_saving": 1 - 1 / self.geomean,
            **{f"factor_{k}": v for k, v in self.quantiles.items()},
            "fraction_worse": self.fraction_worse,
        }


def runtime_reduction(energy: pd.DataFrame, baseline: str, optimised: str) -> Reduction:
    """How much energy per image ``optimised`` saves over ``baseline`` for the models measured on both.

    Raises:
        ConfigError: Unknown setup (lists the available ones), or fewer than 2 common models.
    """
    p = paired_setups(energy, baseline, optimised)
    need(len(p), 2, f"comparing {optimised} with {baseline}")
    p["factor"] = p["energy_a"] / p["energy_b"]
    p["saving"] = 1 - p["energy_b"] / p["energy_a"]
    lf = np.log(p["factor"].to_numpy())
    q = np.quantile(p["factor"], [0.05, 0.25, 0.5, 0.75, 0.95])
    return Reduction(
        baseline=baseline,
        optimised=optimised,
        n=len(p),
        geomean=float(np.exp(lf.mean())),
        gsd=float(np.exp(lf.std(ddof=1))),
        quantiles=dict(zip(("p05", "p25", "median", "p75", "p95"), map(float, q), strict=True)),
        fraction_worse=float((p["factor"] < 1).mean()),
        per_model=p.sort_values("factor").reset_index(drop=True),
    )


def input_size_effect(energy: pd.DataFrame, setup: str | None = None) -> pd.DataFrame:
    """Architectures measured at several input sizes: energy growth against pixel growth.

    For each (setup, arch) with at least two sizes: the energy ratio of the largest to the smallest size, the
    pixel ratio, and the exponent ``k`` of ``E ~ pixels^k`` (least squares over all its sizes; k = 1 means
    energy grows like pixel count). Tags of one architecture at the same size are averaged geometrically.
    """
    import pandas as pd

    e = dedupe_energy(energy if setup is None else energy[energy["setup"] == setup])
    e = e.assign(arch=arch_of(e["model"]))
    g = e.groupby(["setup", "arch", "img_size"])[ENERGY].apply(lambda s: float(np.exp(np.log(s).mean()))).reset_index()
    rows = []
    for (s, arch), grp in g.groupby(["setup", "arch"]):
        if grp["img_size"].nunique() < 2:
            continue
        grp = grp.sort_values("img_size")
        lp = np.log(grp["img_size"].to_numpy(dtype=float) ** 2)
        le = np.log(grp[ENERGY].to_numpy())
        k = float(np.polyfit(lp, le, 1)[0])
        rows.append(
            {
                "setup": s,
                "arch": arch,
                "sizes": ", ".join(str(int(v)) for v in grp["img_size"]),
                "min_size": int(grp["img_size"].iloc[0]),
                "max_size": int(grp["img_size"].iloc[-1]),
                "pixel_ratio": float(np.exp(lp[-1] - lp[0])),
                "energy_ratio": float(np.exp(le[-1] - le[0])),
                "exponent": k,
            }
        )
    return pd.DataFrame(
        rows, columns=["setup", "arch", "sizes", "min_size", "max_size", "pixel_ratio", "energy_ratio", "exponent"]
    )


CURVE_COLUMNS = ("energy_per_image_j", "throughput_ips", "latency_mean_s", "avg_power_w", "power_limit_w")


def batch_curves(measurements: pd.DataFrame, model: str | None = None) -> pd.DataFrame:
    """Per-batch measurements of the sweep, tidy for plotting.

    Keeps ``status == "ok"`` rows; several windows at one batch are averaged. Columns: ``model, img_size,
    runtime, precision, gpu_name, batch_size`` and :data:`CURVE_COLUMNS`, plus ``optimal`` marking the
    batch with least energy per image in each curve.
    """
    import pandas as pd

    m = measurements
    if "status" in m.columns:
        m = m[m["status"] == "ok"]
    if model is not None:
        m = m[m["model"] == model]
    keys = [c for c in ("model", "img_size", "runtime", "precision", "gpu_name") if c in m.columns]
    vals = [c for c in CURVE_COLUMNS if c in m.columns]
    if m.empty or not vals:
        return pd.DataFrame(columns=[*keys, "batch_size", *vals, "optimal"])
    c = m.groupby([*keys, "batch_size"], dropna=False)[vals].mean().reset_index()
    best = c.groupby(keys, dropna=False)[ENERGY].transform("min")
    c["optimal"] = c[ENERGY] == best
    return c.sort_values([*keys, "batch_size"]).reset_index(drop=True)


def input_size_accuracy(df: pd.DataFrame) -> pd.DataFrame:
    """Accuracy side of the input-size effect: per model tag evaluated at several input sizes.

    Args:
        df: One setup's rows with ``model, img_size, accuracy, energy_per_image_j`` (e.g. from
            :func:`joulebench.analysis.frames.energy_accuracy`).

    Returns:
        One row per model with at least two sizes: ``sizes, min_size, max_size, accuracy_gain`` (points, largest
        minus smallest size), ``energy_ratio`` (largest / smallest) and ``points_per_doubling`` (accuracy gain per
        doubling of energy).
    """
    import pandas as pd

    cols = ["model", "sizes", "min_size", "max_size", "accuracy_gain", "energy_ratio", "points_per_doubling"]
    rows = []
    for model, g in df.dropna(subset=["accuracy", ENERGY]).groupby("model"):
        if g["img_size"].nunique() < 2:
            continue
        g = g.sort_values("img_size")
        lo, hi = g.iloc[0], g.iloc[-1]
        ratio = float(hi[ENERGY] / lo[ENERGY])
        gain = float(hi["accuracy"] - lo["accuracy"])
        rows.append(
            {
                "model": model,
                "sizes": ", ".join(str(int(v)) for v in g["img_size"]),
                "min_size": int(lo["img_size"]),
                "max_size": int(hi["img_size"]),
                "accuracy_gain": gain,
                "energy_ratio": ratio,
                "points_per_doubling": gain / np.log2(ratio) if ratio > 1 else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=cols)
