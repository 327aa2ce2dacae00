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

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import (
    ENERGY,
    KEY,
    arch_of,
    check_choice,
    dedupe_energy,
    need,
    paired_setups,
    parse_setup,
    select_setup,
)
from joulebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: A group whose highest energy exceeds its lowest by more than this factor is listed as discordant.
DISCORDANT = 1.10
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


def _summary(result: Repeatability | RatioOutliers) -> dict:
    """Every field of a check's result but its last, the table."""
    return {f.name: getattr(result, f.name) for f in fields(result)[:-1]}


@dataclass(frozen=True)
class Repeatability:
    """Energy spread of identical workloads measured under several tags on one setup.

    Attributes:
        setup: The setup.
        groups: Workloads (architecture, input size) measured under two or more tags.
        configs: Model configurations in those groups.
        pooled_sd_log: Pooled within-group standard deviation of log energy; for small values it is the
            relative standard deviation of one measurement (0.01 = 1 %).
        median_spread, p90_spread, max_spread: Highest over lowest energy within a group, across groups.
        discordant: Groups whose spread exceeds ``threshold``.
        threshold: The spread above which a group counts as discordant.
        per_group: ``arch, img_size, n, models, energy_min_j, energy_max_j, spread, sd_log`` rows, most
            discordant first.
    """

    setup: str
    groups: int
    configs: int
    pooled_sd_log: float
    median_spread: float
    p90_spread: float
    max_spread: float
    discordant: int
    threshold: float
    per_group: pd.DataFrame

    def to_dict(self) -> dict:
        """Summary without the per-group table."""
        return _summary(self)


def workload_groups(rows: pd.DataFrame, catalogue: pd.DataFrame | None = None) -> pd.Series:
    """A workload label per row: ``arch@size``, plus params and MACs when the catalogue knows them.

    Params and MACs keep apart tags of one architecture whose classifier differs (an ImageNet-22k head
    against an ImageNet-1k one), which do not run the same computation.
    """
    import pandas as pd

    label = arch_of(rows["model"]) + "@" + rows["img_size"].astype(int).astype(str)
    if catalogue is None or catalogue.empty or not {"params", "macs"} <= set(catalogue.columns):
        return label
    facts = catalogue[[*KEY, "params", "macs"]].drop_duplicates(KEY)
    m = rows[KEY].merge(facts, on=KEY, how="left")
    sizes = [
        "" if pd.isna(p) or pd.isna(q) else f"#{int(p)}/{int(q)}" for p, q in zip(m["params"], m["macs"], strict=True)
    ]
    return label + pd.Series(sizes, index=rows.index)


def pooled_sd_log(log_e: pd.Series, by) -> tuple[float, int]:
    """Pooled standard deviation of log energies about their groups' means, and its degrees of freedom.

    Args:
        log_e: Log energies.
        by: What groups them, as ``Series.groupby`` takes it (a Series, or a list of them for nested groups).
            Rows without a group are left out; a group of one row adds nothing.

    Returns:
        ``(sd, dof)``: the SD is NaN when no group has two rows (``dof == 0``).
    """
    groups = log_e.groupby(by)
    dof = int((groups.size() - 1).sum())
    squares = float(((log_e - groups.transform("mean")) ** 2).sum())
    return (float(np.sqrt(squares / dof)) if dof else float("nan")), dof


def repeatability(
    energy: pd.DataFrame,
    setup: str,
    catalogue: pd.DataFrame | None = None,
    threshold: float = DISCORDANT,
) -> Repeatability:
    """How far apart the energies of identical workloads are on ``setup`` (see the module docstring).

    Args:
        energy: Energy rows (``model, img_size, setup, energy_per_image_j``), e.g. ``Dataset.energy``.
        setup: The setup, e.g. ``H100:torch-fp32``.
        catalogue: Optional model catalogue; with it, tags whose params or MACs differ are kept apart.
        threshold: Spread (highest / lowest energy) above which a group counts as discordant.

    Raises:
        ConfigError: Unknown setup, a threshold below 1, or no workload measured under two tags.
    """
    import pandas as pd

    check_choice(setup, energy["setup"].unique(), "setup")
    if not threshold >= 1:
        raise ConfigError(f"the discordance threshold is a ratio of energies and must be >= 1 (got {threshold})")
    e = select_setup(energy, setup)
    e = e.assign(arch=arch_of(e["model"]), group=workload_groups(e, catalogue))
    size = e.groupby("group")["model"].transform("size")
    e = e[size >= 2]
    if e.empty:
        raise ConfigError(
            f"no workload of {setup} was measured under two or more tags of one architecture at one input "
            "size, so its repeatability cannot be estimated; measure a second tag (e.g. resnet18.a1_in1k and "
            "resnet18.tv_in1k) or choose another setup"
        )
    e = e.assign(log_e=np.log(e[ENERGY].to_numpy(dtype=float)))
    rows = []
    for _, g in e.groupby("group", sort=False):
        rows.append(
            {
                "arch": g["arch"].iloc[0],
                "img_size": int(g["img_size"].iloc[0]),
                "n": len(g),
                "models": ", ".join(sorted(g["model"].astype(str))),
                "energy_min_j": float(g[ENERGY].min()),
                "energy_max_j": float(g[ENERGY].max()),
                "spread": float(g[ENERGY].max() / g[ENERGY].min()),
                "sd_log": float(g["log_e"].std(ddof=1)),
            }
        )
    per = pd.DataFrame(rows).sort_values(["spread", "arch"], ascending=[False, True]).reset_index(drop=True)
    spread = per["spread"].to_numpy()
    return Repeatability(
        setup=setup,
        groups=len(per),
        configs=int(per["n"].sum()),
        pooled_sd_log=pooled_sd_log(e["log_e"], e["group"])[0],
        median_spread=float(np.median(spread)),
        p90_spread=float(np.quantile(spread, 0.9)),
        max_spread=float(spread.max()),
        discordant=int((spread > threshold).sum()),
        threshold=float(threshold),
        per_group=per,
    )


def repeatabilities(
    energy: pd.DataFrame,
    setups: Sequence[str] | None = None,
    catalogue: pd.DataFrame | None = None,
    threshold: float = DISCORDANT,
    *,
    skip_missing: bool = False,
) -> list[Repeatability]:
    """:func:`repeatability` of each setup (all setups by default) that has repeated workloads.

    A setup named in ``setups`` without any raises ConfigError (saying why), unless ``skip_missing``.
    """
    out = []
    for s in setups if setups is not None else sorted(energy["setup"].dropna().unique()):
        try:
            out.append(repeatability(energy, s, catalogue, threshold))
        except ConfigError:
            if setups is not None and not skip_missing:  # asked for by name: say why it is missing
                raise
    return out


def repeatability_table(
    energy: pd.DataFrame,
    setups: Sequence[str] | None = None,
    catalogue: pd.DataFrame | None = None,
    threshold: float = DISCORDANT,
) -> pd.DataFrame:
    """One :func:`repeatability` summary row per setup that has repeated workloads (see :func:`repeatabilities`)."""
    return summary_table(repeatabilities(energy, setups, catalogue, threshold))


def summary_table(reps: Sequence[Repeatability]) -> pd.DataFrame:
    """The summaries of ``reps`` (without their per-group tables), one row each."""
    import pandas as pd

    return pd.DataFrame([r.to_dict() for r in reps], columns=[f.name for f in fields(Repeatability)[:-1]])


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
    docstring); a ``ratio`` check then has ``blame`` set to the setup whose reading is off.

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
    checks: list[dict] = []
    if mine.empty:
        return checks
    powers = _Powers(e)
    same = e[(arch_of(e["model"]) == model.split(".")[0]) & (e["img_size"] == img_size)]
    same = same[workload_groups(same, catalogue) == workload_groups(mine, catalogue).iloc[0]]
    for setup in sorted(mine["setup"].unique()):
        g = same[same["setup"] == setup]
        if len(g) < 2:
            continue
        spread = float(g[ENERGY].max() / g[ENERGY].min())
        if spread > threshold:
            own = float(g.loc[g["model"] == model, ENERGY].iloc[0])
            others = {str(m): float(v) for m, v in zip(g["model"], g[ENERGY], strict=True) if m != model}
            typical = float(g[ENERGY].median())
            odd = {m: v for m, v in others.items() if _off(v, typical) > threshold}
            odd_one = powers.odd_of_two(setup, g, threshold) if len(g) == 2 else None
            if odd_one is not None:
                other = next(str(m) for m in g["model"] if str(m) != odd_one)
                verdict = (
                    f"{'this reading' if odd_one == model else f'the other tag, {odd_one},'} is wrong: it implies "
                    f"{powers.text(setup, odd_one, img_size)}, against {powers.text(setup, other, img_size)} for "
                    f"{'the other tag' if odd_one == model else 'this one'}"
                )
            elif len(g) == 2:
                verdict = "with two tags the data cannot tell which is wrong; a ratio check against another GPU can"
            elif _off(own, typical) > threshold:
                verdict = f"this reading is the odd one out ({own / typical:.2f}x the median)"
            else:
                shown = ", ".join(f"{m} {v * 1e3:.3g} mJ" for m, v in sorted(odd.items())[:3])
                verdict = "this reading agrees with the median; " + (
                    f"the odd one(s): {shown}" if shown else "the spread comes from readings on both sides of it"
                )
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
    for s, ref, o in _pair_outliers(e, mine["setup"].unique(), factor):
        hit = o.outliers[(o.outliers["model"] == model) & (o.outliers["img_size"] == img_size)]
        if len(hit):
            r = hit.iloc[0]
            head = f"{s} / {ref} energy is {r['ratio']:.2f} for this model but {o.median_ratio:.2f} typically"
            head += f" ({o.n} models)"
            blamed = {"setup": s, "reference": ref}.get(r["blame"])
            known = np.isfinite(r["power_off_by"])
            if blamed is not None:
                other = ref if blamed == s else s
                verdict = (
                    f"the {blamed} reading is off: it implies {powers.text(blamed, model, img_size)}, against "
                    f"{powers.text(other, model, img_size)} on {other}"
                )
            elif known:
                verdict = (
                    f"both readings imply their setups' usual power ({100 * r['power_fraction']:.0f} % and "
                    f"{100 * r['reference_power_fraction']:.0f} % of the limit), so it runs at an unusual speed on "
                    "one GPU"
                )
            else:
                verdict = "one of its two readings is off, or it runs unusually on one GPU"
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
