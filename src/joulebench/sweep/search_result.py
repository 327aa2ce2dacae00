"""What a batch-size search reads and returns: outcomes, the search result, and the runner that measures once.

The searches themselves live in :mod:`~joulebench.sweep.search` (``paper``, ``plateau``, the registry) and
:mod:`~joulebench.sweep.scan` (the default ``scan``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class Outcome(Protocol):
    """What a search reads from a measurement (a ``BatchMeasurement`` fits; ``peak_memory_b`` is optional)."""

    batch_size: int
    status: str
    energy_per_image_j: float | None


#: ``measure(batch_size, phase) -> Outcome``.
MeasureFn = Callable[[int, str], Any]
#: ``ahead(batch_sizes, phase)``: the batches a search measures next in ``phase``, so that their preparation (a
#: compile) can start elsewhere before they are measured. A hint: ignoring it changes nothing but time.
AheadFn = Callable[[list[int], str], Any]


@dataclass(frozen=True)
class Point:
    """A minimal outcome, handy for tests and fake measure functions."""

    batch_size: int
    status: str = "ok"
    energy_per_image_j: float | None = None
    phase: str = "full"
    peak_memory_b: float | None = None
    latency_mean_s: float | None = None


@dataclass
class SearchResult:
    """What a search measured and what it concluded.

    Attributes:
        points: ``(phase, outcome)`` in the order measured.
        stopped: Why the upward search ended (``oom``, ``error``, ``max_batch``, ``plateau``, ``interrupted``).
        largest_fit: Largest batch known to fit (a successful measurement).
        first_fail: Smallest batch known to fail with out-of-memory, or None.
    """

    points: list[tuple[str, Any]] = field(default_factory=list)
    stopped: str = ""
    largest_fit: int | None = None
    first_fail: int | None = None

    def ok(self, phase: str | None = None) -> list[Any]:
        """Successful outcomes (of one phase, or all)."""
        return [o for p, o in self.points if o.status == "ok" and (phase is None or p == phase)]

    @property
    def best(self) -> Any | None:
        """The outcome with least energy per image, preferring full-protocol measurements."""
        pool = self.ok("full") or self.ok()
        pool = [o for o in pool if o.energy_per_image_j is not None]
        return min(pool, key=lambda o: o.energy_per_image_j) if pool else None

    @property
    def measured(self) -> list[int]:
        """Batch sizes attempted, in order."""
        return [o.batch_size for _, o in self.points]


class SearchRunner:
    """Wraps ``measure`` with a cache, the stop check and the bookkeeping of a :class:`SearchResult`."""

    def __init__(self, measure: MeasureFn, should_stop: Callable[[], bool] | None, ahead: AheadFn | None = None):
        self.measure = measure
        self.should_stop = should_stop or (lambda: False)
        self.ahead = ahead
        self.result = SearchResult()
        self._cache: dict[tuple[int, str], Any] = {}

    def expect(self, batches: list[int], phase: str) -> None:
        """Tell ``ahead`` which of ``batches`` this search measures next in ``phase`` and has not measured yet."""
        todo = [b for b in batches if (b, phase) not in self._cache]
        if self.ahead is not None and todo:
            self.ahead(todo, phase)

    def __call__(self, batch: int, phase: str) -> Any | None:
        """Measure ``batch`` once per phase; None when the user asked to stop."""
        key = (batch, phase)
        if key in self._cache:
            return self._cache[key]
        if self.should_stop():
            self.result.stopped = "interrupted"
            return None
        out = self.measure(batch, phase)
        self._cache[key] = out
        self.result.points.append((phase, out))
        if out.status == "ok":
            lf = self.result.largest_fit
            self.result.largest_fit = batch if lf is None else max(lf, batch)
        elif out.status == "oom":
            ff = self.result.first_fail
            self.result.first_fail = batch if ff is None else min(ff, batch)
        return out

    def again(self, batch: int, phase: str) -> Any | None:
        """Measure ``batch`` in ``phase`` once more, though it was measured already; None when asked to stop."""
        self._cache.pop((batch, phase), None)
        return self(batch, phase)

    @property
    def interrupted(self) -> bool:
        """Whether the user asked the search to stop."""
        return self.result.stopped == "interrupted"


def energy_of(o: Any) -> float:
    """An outcome's energy per image, infinite when it has none (so it never ranks best)."""
    e = o.energy_per_image_j
    return math.inf if e is None else float(e)


def bisect_fit(run: SearchRunner, lo: int, hi: int, phase: str) -> None:
    """Bisect between ``lo`` (fits) and ``hi`` (out of memory) until they are adjacent."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        out = run(mid, phase)
        if out is None:
            return
        if out.status == "ok":
            lo = mid
        elif out.status == "oom":
            hi = mid
        else:  # a non-memory error says nothing about the boundary: stop refining
            return


def next_batch(batch: int, max_batch: int) -> int | None:
    """The doubled batch, capped at ``max_batch``; None once ``batch`` reached it."""
    if batch >= max_batch:
        return None
    return min(batch * 2, max_batch)


__all__ = ["MeasureFn", "Outcome", "Point", "SearchResult", "SearchRunner", "bisect_fit", "energy_of", "next_batch"]
