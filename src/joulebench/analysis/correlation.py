"""Cross-setup agreement: does a model that is cheap on one setup stay cheap on another?"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import paired_setups as paired
from joulebench.analysis.frames import setups_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def setup_correlations(energy: pd.DataFrame, setups: Sequence[str] | None = None, min_n: int = 3) -> pd.DataFrame:
    """Pearson and Spearman correlation of per-model energy between every pair of setups.

    Only models measured on both setups of a pair count (``n``). ``pearson`` is on energies, ``pearson_log``
    on log energies (energies span orders of magnitude, so the raw Pearson is driven by the largest models).
    Pairs with fewer than ``min_n`` common models get NaN.
    """
    import pandas as pd
    from scipy import stats

    setups = list(setups) if setups else setups_of(energy)
    rows = []
    for a, b in itertools.combinations(setups, 2):
        p = paired(energy, a, b)
        n = len(p)
        r = {"setup_a": a, "setup_b": b, "n": n}
        if n >= min_n and p["energy_a"].nunique() > 1 and p["energy_b"].nunique() > 1:
            r["pearson"] = float(stats.pearsonr(p["energy_a"], p["energy_b"])[0])
            r["pearson_log"] = float(stats.pearsonr(np.log(p["energy_a"]), np.log(p["energy_b"]))[0])
            r["spearman"] = float(stats.spearmanr(p["energy_a"], p["energy_b"])[0])
            r["median_ratio_b_over_a"] = float(np.median(p["energy_b"] / p["energy_a"]))
        else:
            r.update(pearson=np.nan, pearson_log=np.nan, spearman=np.nan, median_ratio_b_over_a=np.nan)
        rows.append(r)
    return pd.DataFrame(
        rows, columns=["setup_a", "setup_b", "n", "pearson", "pearson_log", "spearman", "median_ratio_b_over_a"]
    )
