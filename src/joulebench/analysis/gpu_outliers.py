"""GPU-ratio outliers and implied power: a model's energy ratio between two setups against the typical one.

Two setups that ran the same models differ by a fairly steady factor per model; a model far from the median
ratio either behaves differently on the two or was measured under other conditions on one of them. The average
power a reading implies (energy per image times throughput) says which (see :mod:`.consistency`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import ENERGY, KEY, dedupe_energy, need, paired_setups, parse_setup
from joulebench.analysis.repeatability import _summary
from joulebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: A model whose energy ratio to the reference is this factor away from the median ratio is an outlier.
OUTLIER_FACTOR = 1.5


def power_fractions(energy: pd.DataFrame) -> pd.DataFrame:
    """Average power each reading implies: ``setup, model, img_size, power_w, power_fraction`` (of the limit).

    ``power_w`` is energy per image times throughput; ``power_fraction`` divides it by ``power_limit_w``. Rows
    lacking either (or the columns) are left out; the result is empty when no row has both.
    """
    import pandas as pd

    cols = ["setup", *KEY, "power_w", "power_fraction"]
    if not {"throughput_ips", "power_limit_w"} <= set(energy.columns):
        return pd.DataFrame(columns=cols)
    e = dedupe_energy(energy)
    power = e[ENERGY].astype(float) * pd.to_numeric(e["throughput_ips"], errors="coerce").astype(float)
    limit = pd.to_numeric(e["power_limit_w"], errors="coerce").astype(float)
    e = e.assign(power_w=power, power_fraction=power / limit)
    e = e[np.isfinite(e["power_fraction"]) & (e["power_fraction"] > 0)]
    return e[cols].reset_index(drop=True)


def _typical_fraction(fractions: pd.DataFrame) -> dict[str, float]:
    """Median implied power fraction per setup."""
    return {str(k): float(v) for k, v in fractions.groupby("setup")["power_fraction"].median().items()}


def _power_text(power_w: float, fraction: float, typical: float) -> str:
    share, usual = 100 * fraction, 100 * typical
    return f"{power_w:.0f} W, {share:.0f} % of its power limit (median of its setup: {usual:.0f} %)"


def _off(value: float, typical: float) -> float:
    """How many times ``value`` is away from ``typical``, either way (>= 1)."""
    return max(value / typical, typical / value)


@dataclass(frozen=True)
class RatioOutliers:
    """Models whose energy ratio between two setups lies far from the typical ratio.

    Attributes:
        setup, reference: The setup checked and the one it is compared with.
        n: Models measured on both.
        median_ratio: Median of ``setup / reference`` energy over those models.
        factor: How far from the median ratio (either way) a model must lie to be listed.
        low, high: Models below ``median_ratio / factor`` and above ``median_ratio * factor``.
        median_power_ratio: Median ratio of the two setups' implied power fractions (see
            :func:`power_fractions`) over the models both know them for; None without such models.
        blamed: Outliers put down to one reading, whose implied power is off (``blame`` below).
        outliers: ``model, img_size, energy_j, reference_energy_j, ratio, off_by, power_fraction,
            reference_power_fraction, power_off_by, blame`` rows, lowest ``off_by`` first. ``off_by`` is the
            ratio over the median one, ``power_off_by`` the same for implied power; ``blame`` is ``"setup"`` or
            ``"reference"`` when the power ratio is off by more than ``factor`` too, the named side's fraction
            is the one far from its setup's median, and it errs the way its energy does; else ``""``.
    """

    setup: str
    reference: str
    n: int
    median_ratio: float
    factor: float
    low: int
    high: int
    median_power_ratio: float | None
    blamed: int
    outliers: pd.DataFrame

    def to_dict(self) -> dict:
        """Summary without the outlier table."""
        return _summary(self)


def ratio_outliers(energy: pd.DataFrame, setup: str, reference: str, factor: float = OUTLIER_FACTOR) -> RatioOutliers:
    """Models whose ``setup / reference`` energy ratio is more than ``factor`` away from the median ratio.

    Args:
        energy: Energy rows, e.g. ``Dataset.energy``.
        setup: The setup to check, e.g. ``H100:torch-fp32``.
        reference: A setup that ran the same models, e.g. ``A100:torch-fp32``.
        factor: Multiplicative distance from the median ratio that makes an outlier (> 1).

    Raises:
        ConfigError: Unknown setup, a factor not above 1, or fewer than 3 models on both setups.
    """
    if not factor > 1:
        raise ConfigError(f"the outlier factor is a ratio and must be above 1 (got {factor}), e.g. 1.5")
    p = paired_setups(energy, setup, reference)
    need(len(p), 3, f"checking {setup} against {reference}")
    ratio = p["energy_a"] / p["energy_b"]
    median = float(ratio.median())
    p = p.assign(ratio=ratio, off_by=ratio / median).rename(
        columns={"energy_a": "energy_j", "energy_b": "reference_energy_j"}
    )
    fr = power_fractions(energy)
    typical = _typical_fraction(fr)
    for side, name in ((setup, "power_fraction"), (reference, "reference_power_fraction")):
        own = fr[fr["setup"] == side][[*KEY, "power_fraction"]].rename(columns={"power_fraction": name})
        p = p.merge(own, on=KEY, how="left")
    pr = p["power_fraction"] / p["reference_power_fraction"]
    median_pr = float(pr.median()) if pr.notna().any() else None
    p = p.assign(power_off_by=pr / median_pr if median_pr else np.nan)
    out = p[(p["off_by"] < 1 / factor) | (p["off_by"] > factor)].sort_values("off_by").reset_index(drop=True)
    pair = (setup, reference)
    out["blame"] = [
        _blame(r.off_by, r.power_off_by, r.power_fraction, r.reference_power_fraction, typical, pair, factor)
        for r in out.itertuples()
    ]
    return RatioOutliers(
        setup=setup,
        reference=reference,
        n=len(p),
        median_ratio=median,
        factor=float(factor),
        low=int((out["off_by"] < 1).sum()),
        high=int((out["off_by"] > 1).sum()),
        median_power_ratio=median_pr,
        blamed=int((out["blame"] != "").sum()),
        outliers=out[[*KEY, "energy_j", "reference_energy_j", "ratio", "off_by", *POWER_COLUMNS]],
    )


POWER_COLUMNS = ("power_fraction", "reference_power_fraction", "power_off_by", "blame")


def _blame(
    off_by: float,
    power_off_by: float,
    fraction: float,
    reference_fraction: float,
    typical: dict[str, float],
    pair: tuple[str, str],
    factor: float,
) -> str:
    """Which reading of a ratio outlier its implied power shows to be off: "setup", "reference" or ""."""
    setup, reference = pair
    if not np.isfinite(power_off_by) or _off(power_off_by, 1.0) <= factor:
        return ""  # the power ratio is ordinary (or unknown): the energy ratio comes from speed
    odd = _odd_reading(fraction / typical[setup], reference_fraction / typical[reference], off_by)
    return "" if odd is None else ("setup", "reference")[odd]


def _odd_reading(usual_a: float, usual_b: float, energy_a_over_b: float) -> int | None:
    """Of two readings, the one whose implied power is off: 0 (a), 1 (b) or None.

    ``usual_a``, ``usual_b``: each reading's implied power fraction over its setup's median one. The reading
    further from its usual power is named if it errs the way its energy does against the other (lower power,
    lower energy); else neither.
    """
    dev_a, dev_b, energy = np.log(usual_a), np.log(usual_b), np.log(energy_a_over_b)
    if abs(dev_a) >= abs(dev_b):
        return 0 if np.sign(dev_a) == np.sign(energy) else None
    return 1 if np.sign(dev_b) == -np.sign(energy) else None


class _Powers:
    """Implied power per reading and the typical fraction per setup, for the checks' verdicts and messages."""

    def __init__(self, energy: pd.DataFrame) -> None:
        fr = power_fractions(energy)
        self.typical = _typical_fraction(fr)
        self.by_key = {
            (str(r.setup), str(r.model), int(r.img_size)): (float(r.power_w), float(r.power_fraction))
            for r in fr.itertuples()
        }

    def text(self, setup: str, model: str, img_size: int) -> str:
        """``"N W, f % of its power limit (...)"``, or "" when unknown."""
        got = self.by_key.get((setup, model, img_size))
        return "" if got is None else _power_text(*got, self.typical[setup])

    def odd_of_two(self, setup: str, g: pd.DataFrame, threshold: float) -> str | None:
        """Of two tags of one workload that disagree, the one whose implied power shows it wrong, or None.

        Both must imply a known power, differing by more than ``threshold``; the one whose fraction is further
        from the setup's median is named if its energy errs the same way (lower power, lower energy).
        """
        got = [self.by_key.get((setup, str(m), int(z))) for m, z in zip(g["model"], g["img_size"], strict=True)]
        if any(x is None for x in got) or _off(got[0][1], got[1][1]) <= threshold:
            return None
        energy = g[ENERGY].to_numpy(dtype=float)
        usual = self.typical[setup]
        i = _odd_reading(got[0][1] / usual, got[1][1] / usual, energy[0] / energy[1])
        return None if i is None else str(g["model"].iloc[i])


def gpu_pairs(setups: Sequence[str]) -> list[tuple[str, str]]:
    """(setup, reference) pairs of one runtime on two GPUs, each pair once (reverse-sorted: H200 before H100)."""
    ordered = sorted(set(setups), reverse=True)
    return [
        (s, ref) for i, s in enumerate(ordered) for ref in ordered[i + 1 :] if parse_setup(s)[1] == parse_setup(ref)[1]
    ]


def _pair_outliers(energy: pd.DataFrame, setups: Sequence[str], factor: float):
    """(setup, reference, RatioOutliers) for every GPU pair with at least 3 shared models."""
    for s, ref in gpu_pairs(setups):
        try:
            yield s, ref, ratio_outliers(energy, s, ref, factor)
        except ConfigError:
            continue  # fewer than 3 shared models: no typical ratio to compare with
