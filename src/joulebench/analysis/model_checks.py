"""The consistency checks one model configuration fails, each with a message a reader can act on.

``joulebench show MODEL`` lists them; :mod:`.consistency` re-exports :func:`model_checks` and explains the checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import ENERGY, arch_of, dedupe_energy
from joulebench.analysis.gpu_outliers import OUTLIER_FACTOR, _off, _pair_outliers, _Powers
from joulebench.analysis.repeatability import DISCORDANT, workload_groups

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def model_checks(
    energy: pd.DataFrame,
    model: str,
    img_size: int,
    catalogue: pd.DataFrame | None = None,
    threshold: float = DISCORDANT,
    factor: float = OUTLIER_FACTOR,
) -> list[dict]:
    """The consistency checks one model configuration fails, each with a message a reader can act on.

    Two kinds: ``repeats`` (on a setup, a tag of the same workload differs by more than ``threshold``) and
    ``ratio`` (its energy ratio between two GPUs of one runtime is more than ``factor`` from the median). Where
    the readings carry throughput and a power limit, the implied power says which reading is wrong (the module
    docstring of :mod:`joulebench.analysis.consistency`); a ``ratio`` check then has ``blame`` set to the setup
    whose reading is off.

    Args:
        energy: Energy rows, e.g. ``Dataset.energy``.
        model: timm tag, e.g. ``hardcorenas_c.miil_green_in1k``.
        img_size: Its input size.
        catalogue: Optional catalogue (keeps apart tags whose params or MACs differ).
        threshold: Spread that makes a repeated workload discordant.
        factor: Distance from the median ratio that makes an outlier.
    """
    e = dedupe_energy(energy)
    mine = e[(e["model"] == model) & (e["img_size"] == img_size)]
    if mine.empty:
        return []
    powers = _Powers(e)
    same = e[(arch_of(e["model"]) == model.split(".")[0]) & (e["img_size"] == img_size)]
    same = same[workload_groups(same, catalogue) == workload_groups(mine, catalogue).iloc[0]]
    checks = _repeat_checks(same, mine, model, img_size, powers, threshold)
    return checks + _ratio_checks(e, mine, model, img_size, powers, factor)


def _repeat_checks(
    same: pd.DataFrame, mine: pd.DataFrame, model: str, img_size: int, powers: _Powers, threshold: float
) -> list[dict]:
    """``repeats`` checks: on each setup of ``mine``, the tags of its workload (``same``) that disagree."""
    checks: list[dict] = []
    for setup in sorted(mine["setup"].unique()):
        g = same[same["setup"] == setup]
        if len(g) < 2:
            continue
        spread = float(g[ENERGY].max() / g[ENERGY].min())
        if spread > threshold:
            own = float(g.loc[g["model"] == model, ENERGY].iloc[0])
            others = {str(m): float(v) for m, v in zip(g["model"], g[ENERGY], strict=True) if m != model}
            typical = float(g[ENERGY].median())
            verdict = _repeat_verdict(g, setup, model, img_size, own, others, typical, powers, threshold)
            checks.append(
                {
                    "check": "repeats",
                    "setup": setup,
                    "spread": spread,
                    "energy_j": own,
                    "siblings": others,
                    "message": f"on {setup} this tag reads {own * 1e3:.3g} mJ; the {len(g)} tags of its workload read "
                    f"{g[ENERGY].min() * 1e3:.3g}-{g[ENERGY].max() * 1e3:.3g} mJ (median {typical * 1e3:.3g}): "
                    + verdict,
                }
            )
    return checks


def _repeat_verdict(
    g: pd.DataFrame,
    setup: str,
    model: str,
    img_size: int,
    own: float,
    others: dict[str, float],
    typical: float,
    powers: _Powers,
    threshold: float,
) -> str:
    """Which of the discordant tags ``g`` is wrong, in words: by implied power, by the median, or not known."""
    odd = {m: v for m, v in others.items() if _off(v, typical) > threshold}
    odd_one = powers.odd_of_two(setup, g, threshold) if len(g) == 2 else None
    if odd_one is not None:
        other = next(str(m) for m in g["model"] if str(m) != odd_one)
        return (
            f"{'this reading' if odd_one == model else f'the other tag, {odd_one},'} is wrong: it implies "
            f"{powers.text(setup, odd_one, img_size)}, against {powers.text(setup, other, img_size)} for "
            f"{'the other tag' if odd_one == model else 'this one'}"
        )
    if len(g) == 2:
        return "with two tags the data cannot tell which is wrong; a ratio check against another GPU can"
    if _off(own, typical) > threshold:
        return f"this reading is the odd one out ({own / typical:.2f}x the median)"
    shown = ", ".join(f"{m} {v * 1e3:.3g} mJ" for m, v in sorted(odd.items())[:3])
    return "this reading agrees with the median; " + (
        f"the odd one(s): {shown}" if shown else "the spread comes from readings on both sides of it"
    )


def _ratio_checks(
    e: pd.DataFrame, mine: pd.DataFrame, model: str, img_size: int, powers: _Powers, factor: float
) -> list[dict]:
    """``ratio`` checks: the GPU pairs of ``mine``'s setups on which the model is a ratio outlier."""
    checks: list[dict] = []
    for s, ref, o in _pair_outliers(e, mine["setup"].unique(), factor):
        hit = o.outliers[(o.outliers["model"] == model) & (o.outliers["img_size"] == img_size)]
        if len(hit):
            r = hit.iloc[0]
            head = f"{s} / {ref} energy is {r['ratio']:.2f} for this model but {o.median_ratio:.2f} typically"
            head += f" ({o.n} models)"
            blamed = {"setup": s, "reference": ref}.get(r["blame"])
            verdict = _ratio_verdict(r, s, ref, blamed, model, img_size, powers)
            checks.append(
                {
                    "check": "ratio",
                    "setup": s,
                    "reference": ref,
                    "ratio": float(r["ratio"]),
                    "median_ratio": o.median_ratio,
                    "off_by": float(r["off_by"]),
                    "blame": blamed,
                    "message": f"{head}: {verdict}",
                }
            )
    return checks


def _ratio_verdict(
    r: pd.Series, s: str, ref: str, blamed: str | None, model: str, img_size: int, powers: _Powers
) -> str:
    """Why a ratio outlier is one, in words: the blamed reading's implied power, an unusual speed, or not known."""
    if blamed is not None:
        other = ref if blamed == s else s
        return (
            f"the {blamed} reading is off: it implies {powers.text(blamed, model, img_size)}, against "
            f"{powers.text(other, model, img_size)} on {other}"
        )
    if np.isfinite(r["power_off_by"]):
        return (
            f"both readings imply their setups' usual power ({100 * r['power_fraction']:.0f} % and "
            f"{100 * r['reference_power_fraction']:.0f} % of the limit), so it runs at an unusual speed on "
            "one GPU"
        )
    return "one of its two readings is off, or it runs unusually on one GPU"
