"""Efficiency scores, thresholds and ranking.

* ``acc-per-joule``: top-1 accuracy (%) divided by energy per image (J); meaningful only above a minimum
  accuracy (a useless model that spends nothing would win), hence ``min_accuracy``.
* ``manhattan``: 100 minus the weighted Manhattan distance to the ideal point (100 % accuracy, zero energy)::

      score = 100 - (W * 100 * E / N + (1 - W) * (100 - A))

  with ``W`` in [0, 1] the weight of energy, ``N`` the largest energy in the compared set (the models left
  after the thresholds), ``E`` energy per image and ``A`` accuracy (%). With A in [0, 100] the score stays
  in [0, 100]; 100 is the ideal point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from joulebench.analysis.frames import ACC, ENERGY
from joulebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

BYTES_PER_PARAM = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "int8": 1}


def manhattan_score(energy_j, accuracy, weight: float, max_energy_j: float) -> np.ndarray:
    """``100 - (W*100*E/N + (1-W)*(100-A))``; see the module docstring.

    Raises:
        ConfigError: ``weight`` outside [0, 1] or a non-positive ``max_energy_j``.
    """
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"--weight must be within [0, 1] (0 = accuracy only, 1 = energy only), got {weight}")
    if not max_energy_j > 0:
        raise ConfigError(f"the largest energy of the compared set must be > 0, got {max_energy_j}")
    e = np.asarray(energy_j, dtype=float)
    a = np.asarray(accuracy, dtype=float)
    # the ratio first: scaling a tiny (subnormal) energy before dividing loses its precision and can leave [0, 100]
    return 100.0 - (weight * 100.0 * (e / max_energy_j) + (1.0 - weight) * (100.0 - a))


def accuracy_per_joule(energy_j, accuracy) -> np.ndarray:
    """Accuracy points (%) per joule of energy per image."""
    return np.asarray(accuracy, dtype=float) / np.asarray(energy_j, dtype=float)


@dataclass(frozen=True)
class Thresholds:
    """Limits a model must meet to be ranked (None = no limit). All SI."""

    min_accuracy: float | None = None
    max_energy_j: float | None = None
    max_latency_s: float | None = None
    max_params: float | None = None
    max_memory_b: float | None = None

    def checks(self) -> list[tuple[str, str, Callable[[Any], Any]]]:
        """(label, column, keep-predicate) for each set threshold, in the order they are applied."""
        out = []
        if self.min_accuracy is not None:
            out.append((f"min accuracy {self.min_accuracy:g}%", ACC, lambda s, v=self.min_accuracy: s >= v))
        if self.max_energy_j is not None:
            out.append((f"max energy {self.max_energy_j:g} J", ENERGY, lambda s, v=self.max_energy_j: s <= v))
        if self.max_latency_s is not None:
            out.append((f"max latency {self.max_latency_s:g} s", "latency_s", lambda s, v=self.max_latency_s: s <= v))
        if self.max_params is not None:
            out.append((f"max params {self.max_params:g}", "params", lambda s, v=self.max_params: s <= v))
        if self.max_memory_b is not None:
            out.append((f"max memory {self.max_memory_b:g} B", "memory_b", lambda s, v=self.max_memory_b: s <= v))
        return out


def apply_thresholds(df: pd.DataFrame, thresholds: Thresholds) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Filter ``df`` by each threshold in turn; report how many models each one removed.

    Models lacking the thresholded value (e.g. no latency) are removed by that threshold too.

    Returns:
        The kept rows and one ``{"threshold", "column", "before", "removed", "missing"}`` dict per threshold.
    """
    d = df
    log = []
    for label, col, keep in thresholds.checks():
        before = len(d)
        if col not in d.columns:
            log.append({"threshold": label, "column": col, "before": before, "removed": before, "missing": before})
            d = d.iloc[0:0]
            continue
        values = d[col]
        missing = int(values.isna().sum())
        mask = values.notna() & keep(values)
        d = d[mask]
        log.append(
            {"threshold": label, "column": col, "before": before, "removed": before - len(d), "missing": missing}
        )
    return d, log


def with_memory(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``memory_b``: measured peak memory where known, else weight memory (params x bytes per parameter)."""
    out = df.copy()
    weights = np.nan
    if "params" in out.columns:
        bpp = out["precision"].map(BYTES_PER_PARAM).fillna(4) if "precision" in out.columns else 4
        weights = out["params"] * bpp
    if "peak_memory_b" in out.columns:
        out["memory_b"] = out["peak_memory_b"].fillna(weights if np.ndim(weights) else np.nan)
    else:
        out["memory_b"] = weights
    return out


SCORES = ("manhattan", "acc-per-joule")


@dataclass
class RankResult:
    """A ranking with the story of what was filtered out.

    Attributes:
        table: Ranked rows (best first) with ``score`` and ``rank``; empty when nothing passed.
        candidates: Models before the thresholds.
        filtered: One dict per threshold (see :func:`apply_thresholds`).
        score: Score name; ``weight`` and ``max_energy_j`` (N) for the Manhattan score.
        reason: Why the table is empty, or None.
    """

    table: pd.DataFrame
    candidates: int
    filtered: list[dict[str, Any]] = field(default_factory=list)
    score: str = "manhattan"
    weight: float | None = None
    max_energy_j: float | None = None
    reason: str | None = None


def rank(
    df: pd.DataFrame,
    score: str = "manhattan",
    weight: float = 0.5,
    thresholds: Thresholds | None = None,
    limit: int | None = None,
) -> RankResult:
    """Rank model configurations (one setup) by an efficiency score after thresholds.

    Args:
        df: Rows with ``energy_per_image_j`` and ``accuracy`` (e.g. from ``energy_accuracy``).
        score: ``manhattan`` or ``acc-per-joule``.
        weight: W of the Manhattan score (energy's weight), in [0, 1].
        thresholds: Limits applied before scoring; N is taken over the models that pass.
        limit: Keep the best ``limit`` rows.

    Raises:
        ConfigError: Unknown score or weight outside [0, 1].
    """
    if score not in SCORES:
        raise ConfigError(f"unknown score '{score}'; choose one of {', '.join(SCORES)}")
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"--weight must be within [0, 1] (0 = accuracy only, 1 = energy only), got {weight}")
    thresholds = thresholds or Thresholds()
    d = with_memory(df.dropna(subset=[ENERGY, ACC]))
    candidates = len(d)
    kept, log = apply_thresholds(d, thresholds)
    if kept.empty:
        if candidates == 0:
            reason = "no model has both energy and accuracy for this selection"
        else:
            parts = [f"{f['threshold']} removed {f['removed']} of {f['before']}" for f in log if f["removed"]]
            reason = "no model passes the thresholds: " + "; ".join(parts)
        return RankResult(kept.assign(score=[], rank=[]), candidates, log, score, weight, None, reason)
    kept = kept.copy()
    n = float(kept[ENERGY].max())
    if score == "manhattan":
        kept["score"] = manhattan_score(kept[ENERGY], kept[ACC], weight, n)
    else:
        kept["score"] = accuracy_per_joule(kept[ENERGY], kept[ACC])
    kept = kept.sort_values(["score", ENERGY], ascending=[False, True]).reset_index(drop=True)
    kept["rank"] = np.arange(1, len(kept) + 1)
    if limit is not None:
        kept = kept.head(limit)
    return RankResult(kept, candidates, log, score, weight if score == "manhattan" else None, n, None)
