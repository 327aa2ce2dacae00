"""Cross-setup agreement: does a model that is cheap on one setup stay cheap on another?"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import KEY, dedupe_energy, require, setups_of
from joulebench.analysis.frames import paired_setups as paired

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


#: The paper's four setups and the four pairs its Table 1 correlates.
PAPER_SETUPS = ("A100:torch-fp32", "A100:tensorrt-fp16", "H100:torch-fp32", "H100:tensorrt-fp16")
TABLE1_PAIRS = (
    ("A100:tensorrt-fp16", "A100:torch-fp32"),
    ("A100:tensorrt-fp16", "H100:tensorrt-fp16"),
    ("H100:torch-fp32", "A100:torch-fp32"),
    ("H100:torch-fp32", "H100:tensorrt-fp16"),
)


def common_models(energy: pd.DataFrame, setups: Sequence[str]) -> pd.DataFrame:
    """The energy rows of ``setups`` restricted to the (model, img_size) measured on every one of them."""
    e = dedupe_energy(energy[energy["setup"].isin(list(setups))])
    counts = e.groupby(KEY)["setup"].nunique()
    keep = counts[counts == len(set(setups))].reset_index()[KEY]
    return e.merge(keep, on=KEY, how="inner")


def setup_correlations(
    energy: pd.DataFrame,
    setups: Sequence[str] | None = None,
    min_n: int = 3,
    pairs: Sequence[tuple[str, str]] | None = None,
    common: bool = False,
) -> pd.DataFrame:
    """Pearson and Spearman correlation of per-model energy between pairs of setups.

    Every pair of ``setups`` by default, or the given ``pairs``. Only models measured on both setups of a pair
    count (``n``); with ``common``, only models measured on every setup of ``setups`` (the paper's Table 1
    selection: models present in all four setups). ``pearson`` is on energies, ``pearson_log``
    on log energies (energies span orders of magnitude, so the raw Pearson is driven by the largest models).
    Pairs with fewer than ``min_n`` common models get NaN.
    """
    import pandas as pd

    stats = require("scipy.stats", purpose="correlating energies between setups")

    setups = list(setups) if setups else sorted({s for p in pairs or () for s in p}) or setups_of(energy)
    if common:
        energy = common_models(energy, setups)
    rows = []
    for a, b in pairs or itertools.combinations(setups, 2):
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
