"""Batch-size searches: which batch sizes to measure, given a function that measures one.

Pure logic (no torch, no meter): a search calls ``measure(batch_size, phase)`` and reads the outcome's
``status`` (``ok``, ``oom``, ``error``) and ``energy_per_image_j``. ``phase`` is ``full`` (the full
protocol) or ``scout`` (a short window that only has to tell which way energy per image goes).

* ``paper`` -- the protocol of "The Hidden Joules": from batch 1, double until out of memory (or the
  maximum batch), then bisect between the last batch that fitted and the first that failed; every batch is
  measured with the full protocol. It finds the largest batch that fits, at a high price.
* ``plateau`` (default) -- scout upwards from batch 1 by doubling with short windows while energy per image
  keeps improving by at least ``threshold`` (1%); stop after ``patience`` (2) consecutive doublings that
  improved less (or out of memory, or the maximum) -- unless the last doubling fell by more than ``threshold``
  from the one before: the curve is falling again after a bump (seen on the H200: vgg16 under compile-fp16
  rose by 39% at batch 16 only), so it goes on, for at most ``patience`` more doublings
  without a new best. Then measure, with the full protocol, the best scouted
  batch and the midpoints between it and its measured neighbours: for a unimodal curve the minimum lies
  between those neighbours, so the best of the three full measurements is within the flat bottom.

Searches are registered by name in :data:`SEARCHES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from joulebench.registry import Registry


class Outcome(Protocol):
    """What a search reads from a measurement (a ``BatchMeasurement`` fits)."""

    batch_size: int
    status: str
    energy_per_image_j: float | None


#: ``measure(batch_size, phase) -> Outcome``.
MeasureFn = Callable[[int, str], Any]


@dataclass(frozen=True)
class Point:
    """A minimal outcome, handy for tests and fake measure functions."""

    batch_size: int
    status: str = "ok"
    energy_per_image_j: float | None = None
    phase: str = "full"


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


class _Runner:
    """Wraps ``measure`` with a cache, the stop check and the bookkeeping of a :class:`SearchResult`."""

    def __init__(self, measure: MeasureFn, should_stop: Callable[[], bool] | None):
        self.measure = measure
        self.should_stop = should_stop or (lambda: False)
        self.result = SearchResult()
        self._cache: dict[tuple[int, str], Any] = {}

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

    @property
    def interrupted(self) -> bool:
        return self.result.stopped == "interrupted"


def _epi(o: Any) -> float:
    e = o.energy_per_image_j
    return math.inf if e is None else float(e)


def _bisect(run: _Runner, lo: int, hi: int, phase: str) -> None:
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


def _next_batch(batch: int, max_batch: int) -> int | None:
    if batch >= max_batch:
        return None
    return min(batch * 2, max_batch)


def paper_search(
    measure: MeasureFn,
    *,
    max_batch: int,
    start: int = 1,
    should_stop: Callable[[], bool] | None = None,
    **_: Any,
) -> SearchResult:
    """The paper's protocol: double from ``start`` until out of memory, then bisect the boundary.

    Args:
        measure: ``measure(batch_size, phase)``; always called with phase ``full``.
        max_batch: Largest batch to try.
        start: First batch size.
        should_stop: Polled before each measurement; True ends the search (Ctrl-C).

    Returns:
        The :class:`SearchResult`.
    """
    run = _Runner(measure, should_stop)
    batch: int | None = max(1, min(start, max_batch))
    last_ok: int | None = None
    while batch is not None:
        out = run(batch, "full")
        if out is None:
            return run.result
        if out.status != "ok":
            run.result.stopped = out.status
            if out.status == "oom" and last_ok is not None:
                _bisect(run, last_ok, batch, "full")
            return run.result
        last_ok = batch
        batch = _next_batch(batch, max_batch)
    run.result.stopped = "max_batch"
    return run.result


def plateau_search(
    measure: MeasureFn,
    *,
    max_batch: int,
    start: int = 1,
    threshold: float = 0.01,
    patience: int = 2,
    should_stop: Callable[[], bool] | None = None,
    scout: bool = True,
    **_: Any,
) -> SearchResult:
    """Double while energy per image improves, then refine around the best batch.

    Args:
        measure: ``measure(batch_size, phase)``.
        max_batch: Largest batch to try.
        start: First batch size.
        threshold: Relative improvement over the best so far that counts as "still improving".
        patience: Consecutive doublings without such an improvement that end the upward search, unless the
            last one still fell by ``threshold`` from its predecessor; ``2 * patience`` end it in any case.
        should_stop: Polled before each measurement; True ends the search (Ctrl-C).
        scout: Use short ``scout`` windows upwards and the full protocol only for the final candidates;
            False measures everything with the full protocol.

    Returns:
        The :class:`SearchResult`.
    """
    run = _Runner(measure, should_stop)
    up = "scout" if scout else "full"
    batch: int | None = max(1, min(start, max_batch))
    ladder: list[int] = []  # successful batches of the upward search
    best: Any | None = None
    flat = 0
    prev: Any | None = None
    first_fail: int | None = None
    while batch is not None:
        out = run(batch, up)
        if out is None:
            return run.result
        if out.status != "ok":
            run.result.stopped = out.status
            first_fail = batch
            break
        ladder.append(batch)
        if best is None or _epi(out) < _epi(best) * (1.0 - threshold):
            flat = 0
        else:
            flat += 1
        if best is None or _epi(out) < _epi(best):
            best = out
        falling = prev is not None and _epi(out) < _epi(prev) * (1.0 - threshold)
        prev = out
        if flat >= patience and not (falling and flat < 2 * patience):
            run.result.stopped = "plateau"
            break
        batch = _next_batch(batch, max_batch)
    else:
        run.result.stopped = "max_batch"
    if best is None:
        return run.result

    b = best.batch_size
    i = ladder.index(b)
    lower = ladder[i - 1] if i > 0 else None
    upper = ladder[i + 1] if i + 1 < len(ladder) else first_fail if run.result.stopped == "oom" else None
    candidates = [b]
    if lower is not None and b - lower > 1:
        candidates.append((lower + b) // 2)
    if upper is not None and upper - b > 1:
        candidates.append((b + upper) // 2)
    for c in candidates:
        if run(c, "full") is None:
            return run.result
    return run.result


class _Replayed(Exception):
    """Ends a replay: ``batch`` is the scouting batch the stored ladder lacks (None: the upward search ended)."""

    def __init__(self, batch: int | None):
        super().__init__(batch)
        self.batch = batch


def first_unscouted(
    scouted: dict[int, Any],
    *,
    max_batch: int,
    start: int = 1,
    threshold: float = 0.01,
    patience: int = 2,
) -> int | None:
    """The first batch the plateau search would scout that a stored ladder lacks, or None.

    Replays :func:`plateau_search` (the current rule) on scouting outcomes measured earlier, to audit results
    taken under an older rule: a batch is returned when the current rule would not have stopped where the
    stored ladder ends (on the H200, vgg16's compile-fp16 ladder ended on a bump that the rule now looks past).

    Args:
        scouted: Scouting outcomes by batch size (``status``, ``energy_per_image_j``; ``oom`` ends the ladder).
        max_batch: The search's largest batch.
        start: Its first batch.
        threshold: Its plateau threshold.
        patience: Its plateau patience.

    Returns:
        The first batch size missing from ``scouted`` that the upward search would measure, or None.
    """

    def replay(batch: int, phase: str) -> Any:
        if phase != "scout":  # the upward search is over: refinement measures in full
            raise _Replayed(None)
        if batch not in scouted:
            raise _Replayed(batch)
        return scouted[batch]

    try:
        plateau_search(replay, max_batch=max_batch, start=start, threshold=threshold, patience=patience)
    except _Replayed as r:
        return r.batch
    return None


SearchFn = Callable[..., SearchResult]
SEARCHES: Registry[SearchFn] = Registry("search")
SEARCHES.register("paper")(paper_search)
SEARCHES.register("plateau")(plateau_search)


def get_search(name: str) -> SearchFn:
    """The search registered as ``name``.

    Raises:
        ConfigError: Unknown name (the message lists the known ones).
    """
    return SEARCHES.get(name)


__all__ = [
    "SEARCHES",
    "MeasureFn",
    "Outcome",
    "Point",
    "SearchResult",
    "first_unscouted",
    "get_search",
    "paper_search",
    "plateau_search",
]
