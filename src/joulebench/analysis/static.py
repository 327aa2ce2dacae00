"""Energy against static model statistics: correlations (the paper's Fig. 6) and the log-linear fit (Table 3).

The fit is ``ln E[mJ] = const + b_params ln params + b_gmacs ln GMACs + b_activations ln activations`` by
least squares, with params and activations as plain counts and MACs in billions (GMACs): the slopes do not
depend on the units, the constant does, so it is given in these units with the energy in millijoules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from joulebench.analysis.estimators import CV_SCHEMES, cross_validate, usable
from joulebench.analysis.frames import ENERGY, STATIC, need, require
from joulebench.analysis.metrics import mape

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Names of the fit's terms in the paper's units, in order (constant first).
TERMS = ("const", "params", "gmacs", "activations")
#: Divisors that turn the dataset's columns (counts) into the units of :data:`TERMS`.
UNITS = {"params": 1.0, "macs": 1e9, "activations": 1.0}


def static_correlations(df: pd.DataFrame) -> pd.DataFrame:
    """Pearson and Spearman correlation of energy with params, MACs and activations.

    Args:
        df: One setup's rows with ``energy_per_image_j`` and the static columns (rows lacking one are skipped).

    Returns:
        One row per statistic: ``feature, n, pearson, spearman, pearson_log`` (Pearson on log values too:
        energies span four orders of magnitude, so the plain Pearson follows the largest models).
    """
    import pandas as pd

    stats = require("scipy.stats", purpose="correlating energy with model statistics")

    rows = []
    for c in STATIC:
        d = df.dropna(subset=[ENERGY, c])
        d = d[(d[ENERGY] > 0) & (d[c] > 0)]
        need(len(d), 3, f"correlating energy with {c}")
        e, x = d[ENERGY].to_numpy(dtype=float), d[c].to_numpy(dtype=float)
        rows.append(
            {
                "feature": c,
                "n": len(d),
                "pearson": float(stats.pearsonr(x, e)[0]),
                "spearman": float(stats.spearmanr(x, e)[0]),
                "pearson_log": float(stats.pearsonr(np.log(x), np.log(e))[0]),
            }
        )
    return pd.DataFrame(rows)


def loglinear_fit(df: pd.DataFrame, confidence: float = 0.95) -> dict[str, Any]:
    """Least-squares fit of ``ln E[mJ]`` on the logs of params, GMACs and activations, with confidence intervals.

    Args:
        df: Rows with energy and the three statistics (rows lacking one are skipped).
        confidence: Level of the two-sided intervals (Student t on the ordinary least-squares errors).

    Returns:
        ``{"n", "r2", "in_sample_mape", "coefficients": [{"term", "value", "se", "low", "high"}]}``.
    """
    stats = require("scipy.stats", purpose="confidence intervals of the log-linear fit")

    d = usable(df)
    need(len(d), 5, "fitting the log-linear estimator")
    x = np.column_stack([np.ones(len(d))] + [np.log(d[c].to_numpy(dtype=float) / UNITS[c]) for c in STATIC])
    y = np.log(d[ENERGY].to_numpy(dtype=float) * 1e3)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    dof = len(d) - x.shape[1]
    sigma2 = float(resid @ resid) / dof if dof > 0 else float("nan")
    se = np.sqrt(np.diag(np.linalg.pinv(x.T @ x)) * sigma2)
    t = float(stats.t.ppf(0.5 + confidence / 2, dof)) if dof > 0 else float("nan")
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "n": len(d),
        "r2": 1 - float(resid @ resid) / ss_tot if ss_tot > 0 else float("nan"),
        "confidence": confidence,
        "in_sample_mape": mape(np.exp(x @ coef) / 1e3, d[ENERGY]),
        "coefficients": [
            {"term": n, "value": float(c), "se": float(s), "low": float(c - t * s), "high": float(c + t * s)}
            for n, c, s in zip(TERMS, coef, se, strict=True)
        ],
    }


def loglinear_report(df: pd.DataFrame, k: int = 5, seed: int = 0) -> dict[str, Any]:
    """:func:`loglinear_fit` plus its k-fold MAPE with whole architectures and with whole families held out."""
    fit = loglinear_fit(df)
    for by in CV_SCHEMES:
        cv = cross_validate(df, ("log-linear",), k=k, seed=seed, by=by)
        fit[f"cv_mape_{by}"] = float(cv["mape"].iloc[0])
    fit["folds"] = k
    return fit
