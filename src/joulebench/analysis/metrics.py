"""Error measures shared by the estimators: absolute percentage errors, MAPE, measured/predicted ratio."""

from __future__ import annotations

import numpy as np


def ape(pred, true) -> np.ndarray:
    """Absolute percentage errors (%)."""
    pred = np.asarray(pred, dtype=float)
    true = np.asarray(true, dtype=float)
    return np.abs(pred - true) / true * 100.0


def mape(pred, true) -> float:
    """Mean absolute percentage error (%)."""
    return float(np.mean(ape(pred, true)))


def error_summary(pred, true) -> dict[str, float]:
    """MAPE, median APE and the geometric mean of measured/predicted."""
    pred = np.asarray(pred, dtype=float)
    true = np.asarray(true, dtype=float)
    ratio = true / pred
    return {
        "n": int(len(true)),
        "mape": mape(pred, true),
        "median_ape": float(np.median(ape(pred, true))),
        "geomean_measured_over_predicted": float(np.exp(np.mean(np.log(ratio)))),
    }
