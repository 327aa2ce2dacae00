"""Robustness: energy against accuracy on distribution-shifted test sets, accuracy drops, frontier stability."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import ACC, ENERGY, ROBUST_TESTSETS, accuracy_wide, attach, select_setup, static_facts
from joulebench.analysis.frontier import distance_to_frontier, frontier, pareto_mask

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def robustness_frame(
    energy: pd.DataFrame,
    accuracy: pd.DataFrame,
    setup: str,
    catalogue: pd.DataFrame | None = None,
    testsets: Sequence[str] = ROBUST_TESTSETS,
) -> pd.DataFrame:
    """Per model on ``setup``: ImageNet top-1, top-1 on each of ``testsets``, their mean and the drop.

    Columns: ``imagenet``, one per test set, ``robust_mean`` (mean over ``testsets``; only models with all of
    them), ``drop`` (ImageNet minus the mean, points), ``energy_decile`` (1 = cheapest tenth).
    """
    import pandas as pd

    testsets = list(testsets)
    e = select_setup(energy, setup)
    w = accuracy_wide(accuracy, ["imagenet", *testsets])
    df = e.merge(w, on=["model", "img_size"], how="inner").dropna(subset=["imagenet", *testsets])
    df["robust_mean"] = df[testsets].mean(axis=1)
    df["drop"] = df["imagenet"] - df["robust_mean"]
    df = attach(df, static_facts(catalogue))
    if len(df) >= 10:
        df["energy_decile"] = pd.qcut(df[ENERGY].rank(method="first"), 10, labels=False) + 1
    else:
        df["energy_decile"] = np.nan
    return df.reset_index(drop=True)


def drop_by(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Mean/median ImageNet -> robust-mean accuracy drop (points) grouped by ``type`` or ``energy_decile``."""
    d = df.copy()
    if by not in d.columns:
        d[by] = "unknown"
    elif d[by].isna().any():  # as objects: a float column (energy deciles of too few models) takes no text
        d[by] = d[by].astype(object).where(d[by].notna(), "unknown")
    g = d.groupby(by)
    out = g.agg(
        n=("drop", "size"),
        mean_drop=("drop", "mean"),
        median_drop=("drop", "median"),
        mean_imagenet=("imagenet", "mean"),
        mean_robust=("robust_mean", "mean"),
        min_energy_j=(ENERGY, "min"),
        max_energy_j=(ENERGY, "max"),
    )
    return out.reset_index()


def frontier_stability(
    df: pd.DataFrame, testsets: Sequence[str] = (*ROBUST_TESTSETS, "robust_mean"), near_points: float = 1.0
) -> pd.DataFrame:
    """Does the ImageNet frontier stay efficient on other test sets?

    For each test set: how many of the ImageNet-frontier models are on that set's own frontier (``on``), and
    how many are within ``near_points`` accuracy points of it at their energy (``near``), as fractions too.
    """
    import pandas as pd

    base = df.assign(**{ACC: df["imagenet"]})
    inet = pd.Series(pareto_mask(base[ENERGY].to_numpy(), base[ACC].to_numpy()), index=df.index)
    rows = []
    for t in testsets:
        d = df.dropna(subset=[t]).assign(**{ACC: lambda x, t=t: x[t]})
        on = pareto_mask(d[ENERGY].to_numpy(), d[ACC].to_numpy())
        gap = distance_to_frontier(d, frontier(d))
        sel = inet.loc[d.index].to_numpy()
        n = int(sel.sum())
        rows.append(
            {
                "testset": t,
                "imagenet_frontier_models": n,
                "own_frontier_models": int(on.sum()),
                "on": int((on & sel).sum()),
                "near": int(((gap <= near_points) & sel).sum()),
                "on_fraction": float((on & sel).sum() / n) if n else float("nan"),
                "near_fraction": float(((gap <= near_points) & sel).sum() / n) if n else float("nan"),
                "median_gap_points": float(np.median(gap[sel])) if n else float("nan"),
            }
        )
    return pd.DataFrame(rows)


#: The groups of the paper's accuracy-drop figure: CLIP models apart (their pretraining, not their design,
#: sets their robustness), the rest by architecture type.
FAMILY_GROUPS = {"CNN": "CNN", "Hybrid CNN-Transformer": "Hybrid", "Transformer": "Transformer", "MLP": "MLP"}


def family_group(df: pd.DataFrame) -> pd.Series:
    """``CLIP`` for CLIP-family models (by family, or a CLIP/LAION/OpenAI pretraining tag), else the short type."""
    fam = df["family"].fillna("").astype(str).str.lower() if "family" in df.columns else df["model"] * 0 + ""
    tag = df["model"].astype(str).str.split(".").str[1].fillna("").str.lower()
    clip = (fam == "clip") | tag.str.contains("clip|laion|openai", regex=True)
    kind = df["type"].map(FAMILY_GROUPS).fillna("unknown") if "type" in df.columns else df["model"] * 0 + "unknown"
    return kind.where(~clip, "CLIP")


def drop_by_family_group(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`drop_by` over :func:`family_group` (mean drop from ImageNet to the robust mean, points)."""
    return drop_by(df.assign(group=family_group(df)), "group")
