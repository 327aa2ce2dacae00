"""Energy-accuracy trade-off: Pareto frontier, architecture-type clusters, frontier families."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import ACC, ENERGY

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def pareto_mask(energy: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Boolean mask of Pareto-efficient points: no other point has less-or-equal energy and more accuracy.

    A point is on the frontier when it is the cheapest way to reach at least its accuracy. Among points
    with equal energy only the most accurate one is kept; exact duplicates keep the first.

    Args:
        energy: Energy per image (any positive unit).
        accuracy: Accuracy (any unit, higher is better).
    """
    energy = np.asarray(energy, dtype=float)
    accuracy = np.asarray(accuracy, dtype=float)
    order = np.lexsort((-accuracy, energy))  # energy ascending, then accuracy descending
    mask = np.zeros(len(energy), dtype=bool)
    best = -np.inf
    for i in order:
        if accuracy[i] > best:
            mask[i] = True
            best = accuracy[i]
    return mask


def frontier(df: pd.DataFrame, energy_col: str = ENERGY, acc_col: str = ACC) -> pd.DataFrame:
    """The Pareto-efficient rows of ``df``, sorted by energy (accuracy then rises strictly)."""
    d = df.dropna(subset=[energy_col, acc_col])
    m = pareto_mask(d[energy_col].to_numpy(), d[acc_col].to_numpy())
    return d[m].sort_values(energy_col).reset_index(drop=True)


def frontier_accuracy_at(front: pd.DataFrame, energy_j, energy_col: str = ENERGY, acc_col: str = ACC) -> np.ndarray:
    """Best frontier accuracy reachable with at most ``energy_j`` (step function; NaN below the cheapest)."""
    e = front[energy_col].to_numpy()
    a = front[acc_col].to_numpy()
    q = np.atleast_1d(np.asarray(energy_j, dtype=float))
    idx = np.searchsorted(e, q, side="right") - 1
    out = np.full(q.shape, np.nan)
    ok = idx >= 0
    out[ok] = a[idx[ok]]
    return out


def distance_to_frontier(df: pd.DataFrame, front: pd.DataFrame, energy_col: str = ENERGY, acc_col: str = ACC):
    """Accuracy gap (points) between each row and the best frontier accuracy at its energy (>= 0)."""
    best = frontier_accuracy_at(front, df[energy_col].to_numpy(), energy_col, acc_col)
    return np.maximum(best - df[acc_col].to_numpy(), 0.0)


def type_centroids(df: pd.DataFrame, by: str = "type", energy_col: str = ENERGY, acc_col: str = ACC) -> pd.DataFrame:
    """Cluster centres per architecture type in log-energy/accuracy space.

    The centre's energy is the geometric mean (mean of log10 energy), its accuracy the arithmetic mean;
    ``log10_energy_sd`` and ``accuracy_sd`` give each cluster's spread.
    """
    import pandas as pd

    d = df.dropna(subset=[energy_col, acc_col]).copy()
    d[by] = d[by].fillna("unknown") if by in d.columns else "unknown"
    d["_le"] = np.log10(d[energy_col])
    g = d.groupby(by)
    out = pd.DataFrame(
        {
            "n": g.size(),
            "centre_energy_j": 10 ** g["_le"].mean(),
            "centre_accuracy": g[acc_col].mean(),
            "log10_energy_sd": g["_le"].std(ddof=1),
            "accuracy_sd": g[acc_col].std(ddof=1),
        }
    ).reset_index()
    return out.sort_values("centre_energy_j").reset_index(drop=True)


def frontier_families(front: pd.DataFrame, by: str = "family") -> pd.DataFrame:
    """Which families (or types) make up the frontier: count and the energy range each one covers."""
    import pandas as pd

    col = by if by in front.columns and front[by].notna().any() else "arch"
    f = front.copy()
    f[col] = f[col].fillna(f["arch"] if "arch" in f.columns else "unknown")
    g = f.groupby(col)
    out = pd.DataFrame(
        {
            "n": g.size(),
            "min_energy_j": g[ENERGY].min(),
            "max_energy_j": g[ENERGY].max(),
            "max_accuracy": g[ACC].max(),
            "models": g["model"].agg(lambda s: ", ".join(s)),
        }
    ).reset_index()
    out = out.rename(columns={col: "family"})
    return out.sort_values(["n", "min_energy_j"], ascending=[False, True]).reset_index(drop=True)
