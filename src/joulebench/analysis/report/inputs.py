"""What every report section reads: the dataset, the chosen setups and the report's options, in one object."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from joulebench.analysis.frames import parse_setup

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass
class ReportInput:
    """The data and options of one report (see :func:`~joulebench.analysis.report.build_report` for each field).

    ``frames`` holds the energy-accuracy frame of each setup: the first section builds them, the ranking reuses them.
    """

    energy: pd.DataFrame
    accuracy: pd.DataFrame
    catalogue: pd.DataFrame | None
    stats: pd.DataFrame | None
    facts: pd.DataFrame | None
    setups: list[str]
    measurements: pd.DataFrame | None = None
    intensity_g_per_kwh: float | None = None
    price_per_kwh: float | None = None
    currency: str = ""
    weight: float = 0.5
    cv_folds: int = 5
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)


#: The report's summary: ``setups``, ``per_setup`` (a dict per setup) and one key per section's numbers.
Summary = dict[str, Any]


def runtime_pairs(setups: Sequence[str]) -> list[tuple[str, str]]:
    """(baseline, optimised) pairs on the same GPU: torch-fp32 (else the first runtime) against the others."""
    by_gpu: dict[str, list[str]] = {}
    for s in setups:
        by_gpu.setdefault(parse_setup(s)[0], []).append(s)
    pairs = []
    for group in by_gpu.values():
        if len(group) < 2:
            continue
        base = next((s for s in group if s.endswith(":torch-fp32")), sorted(group)[0])
        pairs += [(base, s) for s in sorted(group) if s != base]
    return pairs
