"""Consistency checks of energy data: repeated workloads within a setup, and outliers against another setup.

**Repeatability.** timm's pretrained tags of one architecture (``resnet18.a1_in1k``, ``resnet18.tv_in1k``,
...) differ only in their weights, so at one input size they run the same computation. A setup that
measured several of them measured one workload several times, and the spread of those energies estimates
its run-to-run noise: identical work should cost the same joules. joulebench measures with random weights,
so its repeats differ only in the moment, the board and the random draw; the reference data's also differ in
trained weights, which change the values the GPU moves but not the operations it runs.

**Ratio outliers.** Two setups that ran the same models (the same runtime on two GPUs, say) differ by a
fairly steady factor per model. A model whose ratio lies far from the typical (median) one either behaves
differently on the two (a kernel one GPU or runtime handles poorly) or was measured under other conditions
on one of them. Repeats tell the two apart: when its identical siblings sit at the typical ratio, the
measurement is the odd one out.

**Implied power.** A reading's energy per image times its throughput is the average power it implies, and that
must be what the board drew. Energy ratio = power ratio / throughput ratio, so an outlier comes either from
speed (the model runs differently on one GPU: a real effect) or from power. A model that runs at the usual speed
but implies a power far from what its setup's other models draw (the paper's H100 FP32 reading of
eva_large_patch14_196: 90 W on a 310 W card whose models draw 98 % of it; its twin tag, at the same throughput,
draws 309 W) was mismeasured, and the checks name that reading rather than both. Rows without throughput or a
power limit are not judged this way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from joulebench.analysis.frames import ENERGY, KEY, check_choice, dedupe_energy

# the private helpers stay importable from here, as before the module was split
from joulebench.analysis.gpu_outliers import (  # noqa: F401
    OUTLIER_FACTOR,
    POWER_COLUMNS,
    RatioOutliers,
    _blame,
    _odd_reading,
    _off,
    _pair_outliers,
    _power_text,
    _Powers,
    _typical_fraction,
    gpu_pairs,
    power_fractions,
    ratio_outliers,
)
from joulebench.analysis.model_checks import model_checks
from joulebench.analysis.repeatability import (
    DISCORDANT,
    Repeatability,
    _summary,  # noqa: F401  (importable from here as before the split)
    pooled_sd_log,
    repeatabilities,
    repeatability,
    repeatability_table,
    summary_table,
    workload_groups,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "DISCORDANT",
    "OUTLIER_FACTOR",
    "POWER_COLUMNS",
    "RatioOutliers",
    "Repeatability",
    "drop_suspect",
    "gpu_pairs",
    "model_checks",
    "pooled_sd_log",
    "power_fractions",
    "ratio_outliers",
    "repeatabilities",
    "repeatability",
    "repeatability_table",
    "summary_table",
    "suspect_readings",
    "suspect_reasons",
    "workload_groups",
]


def suspect_readings(
    energy: pd.DataFrame,
    catalogue: pd.DataFrame | None = None,
    threshold: float = DISCORDANT,
    factor: float = OUTLIER_FACTOR,
) -> pd.DataFrame:
    """Every reading (setup, model configuration) that fails a consistency check, with a short reason.

    The bulk form of :func:`model_checks`, for tables and the explorer: a tag that is the odd one out among
    three or more tags of its workload (of two, the one whose implied power is off, else both), and the
    readings of a model whose energy ratio between two GPUs of one runtime is more than ``factor`` from the
    median ratio (the one whose implied power is off, else both). Simulated setups (``...:sim``) are not checked.

    Returns:
        Columns ``setup, model, img_size, check, message``; one row per failed check.
    """
    import pandas as pd

    e = dedupe_energy(energy)
    e = e[~e["setup"].astype(str).str.endswith(":sim")]
    rows: list[dict] = []
    powers = _Powers(e)
    setups = sorted(e["setup"].unique(), reverse=True)
    for setup in setups:
        es = e[e["setup"] == setup]
        es = es.assign(group=workload_groups(es, catalogue))
        for _, g in es.groupby("group", sort=False):
            if len(g) < 2:
                continue
            lo, hi = float(g[ENERGY].min()), float(g[ENERGY].max())
            if hi / lo <= threshold:
                continue
            work = f"{str(g['model'].iloc[0]).split('.')[0]}@{int(g['img_size'].iloc[0])}"
            median = float(g[ENERGY].median())
            odd_one = powers.odd_of_two(setup, g, threshold) if len(g) == 2 else None
            for m, size, v in zip(g["model"], g["img_size"], g[ENERGY], strict=True):
                if odd_one is not None:
                    if m != odd_one:
                        continue
                    msg = (
                        f"the 2 tags of its workload ({work}) read {lo * 1e3:.3g} and {hi * 1e3:.3g} mJ; this one "
                        f"implies {powers.text(setup, str(m), int(size))}: it is the wrong one"
                    )
                elif len(g) == 2:
                    msg = f"the 2 tags of its workload ({work}) read {lo * 1e3:.3g} and {hi * 1e3:.3g} mJ: one is wrong"
                elif _off(v, median) > threshold:
                    msg = f"{v / median:.2f}x the median of the {len(g)} tags of its workload ({work}): looks wrong"
                else:
                    continue
                rows.append({"setup": setup, "model": m, "img_size": int(size), "check": "repeats", "message": msg})
    for s, ref, o in _pair_outliers(e, setups, factor):
        for r in o.outliers.itertuples():
            typical = f"typically {o.median_ratio:.2f}x over {o.n} models"
            sides = [
                (s, f"{r.ratio:.2f}x its energy on {ref} ({typical})"),
                (ref, f"{s} reads {r.ratio:.2f}x this ({typical})"),
            ]
            if r.blame:
                setup = s if r.blame == "setup" else ref
                implied = powers.text(setup, r.model, int(r.img_size))
                sides = [(x, f"{t}; it implies {implied}") for x, t in sides if x == setup]
            for setup, text in sides:
                rows.append(
                    {
                        "setup": setup,
                        "model": r.model,
                        "img_size": int(r.img_size),
                        "check": "ratio",
                        "message": text,
                    }
                )
    return pd.DataFrame(rows, columns=["setup", "model", "img_size", "check", "message"])


def suspect_reasons(energy: pd.DataFrame, catalogue: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`suspect_readings` with one row per reading: ``setup, model, img_size, message`` ("; "-joined)."""
    return suspect_readings(energy, catalogue).groupby(["setup", *KEY], as_index=False)["message"].agg("; ".join)


def drop_suspect(
    energy: pd.DataFrame, setup: str, catalogue: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``energy`` without the readings of ``setup`` that :func:`suspect_readings` flags, and those readings.

    Other setups' rows stay (they are the references the checks compare with).

    Returns:
        ``(energy without the flagged rows of setup, flagged rows: model, img_size, check, message)``.
    """
    check_choice(setup, energy["setup"].unique(), "setup")
    why = suspect_reasons(energy, catalogue)
    why = why[why["setup"] == setup][[*KEY, "message"]]
    flag = energy[KEY].merge(why[KEY].assign(_flag=True), on=KEY, how="left")["_flag"].eq(True).to_numpy()
    hit = (energy["setup"] == setup).to_numpy() & flag
    return energy[~hit], why.reset_index(drop=True)
