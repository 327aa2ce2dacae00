"""Repeatability: identical workloads measured under several tags on one setup (see :mod:`.consistency`).

timm's pretrained tags of one architecture (``resnet18.a1_in1k``, ``resnet18.tv_in1k``, ...) differ only in their
weights, so at one input size they run the same computation; the spread of their energies on one setup estimates
its run-to-run noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import ENERGY, KEY, arch_of, check_choice, select_setup
from joulebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from joulebench.analysis.gpu_outliers import RatioOutliers

#: A group whose highest energy exceeds its lowest by more than this factor is listed as discordant.
DISCORDANT = 1.10


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
