"""Batch searches replayed offline on measured energy-per-image curves: regret without a GPU.

A *curve* is a ladder of fixed batch sizes measured with long windows (``model, runtime, batch,
energy_per_image_j``). Replaying a search on it answers "which batch would the search have chosen, and how
much more energy per image does that batch cost than the curve's minimum" (the *regret*):

* energy between listed batches is interpolated linearly in log(batch)-log(energy) space; below the smallest
  listed batch it is extrapolated with the first two points' slope, but never flatter than
  :data:`SMALL_BATCH_SLOPE` (a ladder that starts at batch 32 says nothing of batch 1, where a GPU is
  launch-bound and energy per image falls steeply with the batch: a flat or rising first pair must not make
  batch 1 look cheapest);
* batches above the largest listed one are out of memory;
* every reading the search takes gets seeded Gaussian noise: ``scout_rel`` for scouting windows and
  ``full_rel`` for full windows (relative standard deviations, defaults from the spread of stored scouting
  windows against full windows at the same batch), so that a search which trusts one noisy scout shows it.

The regret of a replay is computed on the noise-free curve: the true cost of the batch the search chose.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joulebench.errors import ConfigError
from joulebench.sweep.search import Point, get_search, search_kwargs
from joulebench.sweep.tasks import HARD_MAX_BATCH, SweepOptions

#: The flattest log-log slope assumed below a curve's smallest batch (-1 is a fully launch-bound GPU: the same
#: time per iteration whatever the batch).
SMALL_BATCH_SLOPE = -0.5

#: Columns a curves CSV must have (more are allowed and ignored).
CURVE_COLUMNS = ("model", "runtime", "batch", "energy_per_image_j")


@dataclass(frozen=True)
class Curve:
    """Energy per image against batch size for one (model, runtime), ascending in batch."""

    model: str
    runtime: str
    batches: tuple[int, ...]
    energies_j: tuple[float, ...]
    #: Mean time of one iteration at each batch (s), where the ladder has it: the scan's time limit reads it.
    latencies_s: tuple[float, ...] | None = None
    #: The board the ladder was measured on (a ``gpu_uuid`` column), "" where the file does not say.
    board: str = ""

    def __post_init__(self) -> None:
        if len(self.batches) < 2 or len(self.batches) != len(self.energies_j):
            raise ConfigError(f"curve {self.model} / {self.runtime} needs at least two batches with an energy each")
        if any(e <= 0 for e in self.energies_j) or list(self.batches) != sorted(set(self.batches)):
            raise ConfigError(f"curve {self.model} / {self.runtime}: batches must rise and energies be positive")

    @property
    def largest_batch(self) -> int:
        """The largest batch that fits (larger ones are out of memory)."""
        return self.batches[-1]

    @property
    def minimum(self) -> tuple[int, float]:
        """``(batch, energy per image J)`` of the curve's least energy per image."""
        e, b = min(zip(self.energies_j, self.batches, strict=True))
        return b, e

    def energy_at(self, batch: int) -> float | None:
        """Energy per image (J) at ``batch``, interpolated in log-log space; None above the largest batch."""
        if batch > self.largest_batch:
            return None
        xs = [math.log(b) for b in self.batches]
        ys = [math.log(e) for e in self.energies_j]
        x = math.log(batch)
        k = next((i for i in range(1, len(xs)) if x <= xs[i]), 1)
        x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
        slope = (y1 - y0) / (x1 - x0)
        if x < x0:
            slope = min(slope, SMALL_BATCH_SLOPE)
        return math.exp(y0 + slope * (x - x0))

    def latency_at(self, batch: int) -> float | None:
        """One iteration's time at ``batch`` (s), linear in the batch between listed ones; None without latencies."""
        if self.latencies_s is None or batch > self.largest_batch:
            return None
        pts = list(zip(self.batches, self.latencies_s, strict=True))
        k = next((i for i in range(1, len(pts)) if batch <= pts[i][0]), 1)
        (b0, t0), (b1, t1) = pts[k - 1], pts[k]
        return max(t0 + (t1 - t0) * (batch - b0) / (b1 - b0), 0.0)


def read_curves(path: str | Path) -> list[Curve]:
    """Curves from a CSV with columns ``model,runtime,batch,energy_per_image_j`` (one row per batch).

    Rows of one batch listed several times (a ladder measured up and down) are averaged; rows with a
    ``status`` column other than ``ok`` are skipped. With a ``gpu_uuid`` column, each board's ladder is a curve
    of its own: boards of one model differ by a few percent.

    Raises:
        ConfigError: Missing file or columns, or a value that is not a number.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such curves file (columns: {', '.join(CURVE_COLUMNS)})")
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CURVE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"{p}: missing column(s) {', '.join(missing)}; a curve has {', '.join(CURVE_COLUMNS)}")
        readings: dict[tuple[str, str, str], dict[int, list[float]]] = {}
        latency: dict[tuple[str, str, str], dict[int, float]] = {}
        for line, row in enumerate(reader, start=2):
            if row.get("status", "ok") not in ("ok", "", None) or not row["energy_per_image_j"]:
                continue
            try:
                batch, energy = int(row["batch"]), float(row["energy_per_image_j"])
            except ValueError:
                raise ConfigError(f"{p}:{line}: batch and energy_per_image_j must be numbers") from None
            key = (row["model"], row["runtime"], row.get("gpu_uuid") or "")
            readings.setdefault(key, {}).setdefault(batch, []).append(energy)
            if row.get("latency_mean_s"):
                latency.setdefault(key, {})[batch] = float(row["latency_mean_s"])
    curves = []
    for key, by_batch in readings.items():
        batches = tuple(sorted(by_batch))
        energies = tuple(sum(by_batch[b]) / len(by_batch[b]) for b in batches)
        lat = latency.get(key, {})
        latencies = tuple(lat[b] for b in batches) if all(b in lat for b in batches) else None
        model, runtime, board = key
        curves.append(Curve(model, runtime, batches, energies, latencies, board))
    return curves


@dataclass(frozen=True)
class Noise:
    """Relative standard deviation of a replayed reading, by search phase."""

    scout_rel: float = 0.02
    full_rel: float = 0.005

    def of(self, phase: str) -> float:
        """The standard deviation for ``phase`` (``scout`` or ``full``)."""
        return self.scout_rel if phase == "scout" else self.full_rel


@dataclass(frozen=True)
class Replay:
    """One replay of a search on a curve.

    ``window_s`` is the time its warm-ups and windows would take on the GPU at the curve's latencies (None without
    latencies): each window at its phase's minimum length or iteration count, so full windows that a wide interval
    extends towards ``max_window_s`` take longer. Start-up, model build and compiles are not in it.
    """

    curve: Curve
    batch: int | None
    energy_j: float | None
    measured: tuple[tuple[str, int], ...]
    window_s: float | None = None

    @property
    def regret(self) -> float | None:
        """Chosen batch's true energy over the curve's minimum, minus one (None when nothing was chosen)."""
        return None if self.energy_j is None else self.energy_j / self.curve.minimum[1] - 1.0


class _NoisyCurve:
    """``measure(batch, phase)`` over a curve, with seeded noise (a search's view of the GPU)."""

    def __init__(self, curve: Curve, noise: Noise, seed: int):
        self.curve = curve
        self.noise = noise
        self.rng = random.Random(seed)
        self.measured: list[tuple[str, int]] = []

    def __call__(self, batch: int, phase: str) -> Point:
        self.measured.append((phase, batch))
        e = self.curve.energy_at(batch)
        if e is None:
            return Point(batch, "oom", None, phase)
        noisy = e * (1.0 + self.rng.gauss(0.0, self.noise.of(phase)))
        return Point(batch, "ok", noisy, phase, latency_mean_s=self.curve.latency_at(batch))


def replay(curve: Curve, opts: SweepOptions | None = None, *, noise: Noise | None = None, seed: int = 0) -> Replay:
    """Run the search of ``opts`` (default: the default protocol's) on ``curve``.

    The chosen batch is the one the sweep's summary would report: the full-window reading with least energy
    per image (scouts only when no full window was taken).
    """
    opts = opts or SweepOptions()
    gpu = _NoisyCurve(curve, noise or Noise(), seed)
    result = get_search(opts.search)(
        gpu, max_batch=opts.max_batch or HARD_MAX_BATCH, start=opts.start_batch, **search_kwargs(opts)
    )
    best = result.best
    batch = best.batch_size if best is not None else None
    energy = curve.energy_at(batch) if batch is not None else None
    return Replay(curve, batch, energy, tuple(gpu.measured), window_seconds(curve, gpu.measured, opts))


def window_seconds(curve: Curve, measured: Iterable[tuple[str, int]], opts: SweepOptions) -> float | None:
    """Warm-up and window time of ``measured`` (``(phase, batch)`` in order) at the curve's latencies.

    Each window follows :func:`~joulebench.sweep.protocol.plan_for`: its warm-up lasts ``warmup_s`` or
    ``warmup_min_iters`` iterations, its window ``min_window_s`` or ``min_iters`` iterations, whichever is longer;
    the first window gets the first batch's warm-up. A batch out of memory costs nothing here.
    """
    from joulebench.sweep.protocol import plan_for

    if curve.latencies_s is None:
        return None
    total = 0.0
    for i, (phase, batch) in enumerate(measured):
        latency = curve.latency_at(batch)
        if latency is None:
            continue
        plan = plan_for(opts, phase, first=i == 0)
        total += max(plan.warmup_s, plan.warmup_min_iters * latency) + max(plan.min_window_s, plan.min_iters * latency)
    return total


def worst_replay(
    curve: Curve, opts: SweepOptions | None = None, *, noise: Noise | None = None, trials: int = 20
) -> Replay:
    """The replay with the largest regret over ``trials`` seeds (seeds 0 .. trials-1)."""
    return max(_replays(curve, opts, noise=noise, trials=trials), key=_regret_key)


def _replays(curve: Curve, opts: SweepOptions | None, *, noise: Noise | None = None, trials: int = 20) -> list[Replay]:
    return [replay(curve, opts, noise=noise, seed=s) for s in range(trials)]


def _regret_key(r: Replay) -> float:
    return math.inf if r.regret is None else r.regret


def replay_table(curves: Iterable[Curve], opts: SweepOptions | None = None, **kw: Any) -> list[dict[str, Any]]:
    """One row per curve: the worst replay's choice and regret, and the window time its seeds take.

    Keys: ``batch`` and ``energy_per_image_j`` (the worst seed's choice), ``min_batch``, ``min_energy_per_image_j``,
    ``regret``, ``windows`` (the worst seed's count) and ``window_s`` (the seeds' mean, see :class:`Replay`).
    """
    rows = []
    for c in curves:
        runs = _replays(c, opts, **kw)
        r = max(runs, key=_regret_key)
        costs = [x.window_s for x in runs if x.window_s is not None]
        b_min, e_min = c.minimum
        rows.append(
            {
                "model": c.model,
                "board": c.board,
                "runtime": c.runtime,
                "batch": r.batch,
                "energy_per_image_j": r.energy_j,
                "min_batch": b_min,
                "min_energy_per_image_j": e_min,
                "regret": r.regret,
                "windows": len(r.measured),
                "window_s": sum(costs) / len(costs) if costs else None,  # mean over the seeds
            }
        )
    return rows


__all__ = [
    "CURVE_COLUMNS", "SMALL_BATCH_SLOPE", "Curve", "Noise", "Replay", "read_curves", "replay", "replay_table",
    "window_seconds", "worst_replay",
]  # fmt: skip
