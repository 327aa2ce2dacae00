"""Batch-size searches: which batch sizes to measure, given a function that measures one.

Pure logic (no torch, no meter): a search calls ``measure(batch_size, phase)`` and reads the outcome's
``status`` (``ok``, ``oom``, ``error``) and ``energy_per_image_j``. ``phase`` is ``full`` (the full
protocol) or ``scout`` (a short window that only has to tell which way energy per image goes).

* ``paper`` -- the protocol of "The Hidden Joules": from batch 1, double until out of memory (or the
  maximum batch), then bisect between the last batch that fitted and the first that failed; every batch is
  measured with the full protocol. It finds the largest batch that fits, at a high price.
* ``scan`` (default) -- scout upwards with short counter-aligned windows to the memory limit (predicted from
  the peak memory of the last two scouts, so that the last scout is the largest batch that fits rather than an
  out-of-memory error) or to a batch whose one iteration would take over ``max_iter_s`` (1.5 s; over a third of
  that only while the last scout is within 2 % of the best), stopping early only when ``patience`` (2)
  consecutive scouts read more than ``rise`` (10 %) above the best one without falling from their predecessor: a
  single bump never ends it. The batch doubles, or quadruples while the last doubling left the iteration time
  nearly unchanged (launch-bound: energy per image still falls about as fast as the batch grows). Then the best
  scouted batch, and the next ``finalists - 1`` (1) whose scouts read within ``margin`` (4 %) of it, are measured
  with the full protocol and the best one wins. Measured against fixed-batch ladders
  (docs/validation/search.md), where the plateau rule stopped on noise or a bump before the minimum.
* ``plateau`` -- scout upwards from batch 1 by doubling with short windows while energy per image
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
    """What a search reads from a measurement (a ``BatchMeasurement`` fits; ``peak_memory_b`` is optional)."""

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


#: A scout this much below its predecessor is "falling" (the scan's bump rule).
_FALL = 0.01


def memory_cap(points: list[Any], memory_limit_b: float | None, share: float = 0.8) -> int | None:
    """The largest batch whose peak memory stays within ``share`` of ``memory_limit_b``, or None.

    Peak memory is taken as linear in the batch size (weights and workspace plus activations per image), fitted
    through the two largest scouted batches that report it. None when the device's memory is unknown, fewer
    than two batches report their peak, or memory does not grow with the batch.

    Args:
        points: Successful outcomes (``batch_size`` and optional ``peak_memory_b``).
        memory_limit_b: The device's memory (bytes), or None.
        share: Share of the memory the prediction may fill (the rest covers allocator fragmentation).
    """
    known = sorted(
        (o.batch_size, float(o.peak_memory_b)) for o in points if getattr(o, "peak_memory_b", None) is not None
    )
    if memory_limit_b is None or len(known) < 2:
        return None
    (b1, m1), (b2, m2) = known[-2:]
    per_image = (m2 - m1) / (b2 - b1) if b2 > b1 else 0.0
    if per_image <= 0:
        return None
    return max(1, int((share * memory_limit_b - (m2 - per_image * b2)) // per_image))


def _round_batch(batch: int) -> int:
    """``batch`` rounded down to a multiple of 8 above 64 (kernels prefer it; the ladder stays readable)."""
    return batch - batch % 8 if batch > 64 else batch


#: Scouts whose one iteration would take over this share of ``max_iter_s`` are costly (see ``_FLAT``).
_COSTLY_SHARE = 1 / 3
#: A costly scout is taken only while the last scout is within this fraction of the best one: a flat or falling
#: curve may still reach its minimum at a batch that large (convnext_tiny on an H100: 2.4 % lower at batch 4096
#: than at 256), a rising one does not repay seconds per scout.
_FLAT = 0.02

#: Two scouts whose iteration times differ by less than this factor while the batch doubled are launch-bound.
_LAUNCH_BOUND = 1.25


def _launch_bound(ladder: list[Any]) -> bool:
    """Whether the last doubling left the iteration time nearly unchanged (the GPU is far from busy).

    There energy per image falls about as fast as the batch grows, so the minimum cannot lie within the next
    doubling: the scan skips it (batch ×4) and spends its scouts where the curve flattens.
    """
    if len(ladder) < 2 or ladder[-1].batch_size < 2 * ladder[-2].batch_size:
        return False
    t0, t1 = (getattr(o, "latency_mean_s", None) for o in ladder[-2:])
    return t0 is not None and t1 is not None and 0 < t1 < t0 * _LAUNCH_BOUND


def _scan_next(
    batch: int, ladder: list[Any], max_batch: int, memory_limit_b: float | None, max_iter_s: float | None
) -> tuple[int | None, str]:
    """The next batch to scout after ``batch`` and, when there is none, why the upward scan ends."""
    nxt = _next_batch(batch, max_batch)
    if nxt is None:
        return None, "max_batch"
    if _launch_bound(ladder):
        nxt = min(batch * 4, max_batch)
    latency = getattr(ladder[-1], "latency_mean_s", None)
    if max_iter_s is not None and latency is not None:
        projected = latency * nxt / batch
        # a scout of over a third of the limit costs seconds: taken only while the curve is still at its best
        costly = projected > max_iter_s * _COSTLY_SHARE and _epi(ladder[-1]) > _epi(min(ladder, key=_epi)) * (1 + _FLAT)
        if projected > max_iter_s or costly:
            return None, "slow"
    cap = memory_cap(ladder, memory_limit_b)
    if cap is not None and nxt > cap:
        cap = _round_batch(cap)
        if cap < batch * 1.25:  # too close to the last scout to tell it apart
            return None, "memory"
        return cap, ""
    return nxt, ""


def scan_search(
    measure: MeasureFn,
    *,
    max_batch: int,
    start: int = 1,
    rise: float = 0.10,
    patience: int = 2,
    finalists: int = 2,
    margin: float = 0.04,
    memory_limit_b: float | None = None,
    max_iter_s: float | None = 1.5,
    should_stop: Callable[[], bool] | None = None,
    **_: Any,
) -> SearchResult:
    """Scout to the memory limit, then confirm the best scouted batches with full windows.

    Args:
        measure: ``measure(batch_size, phase)``.
        max_batch: Largest batch to try.
        start: First batch size.
        rise: A scout more than this fraction above the best scout so far, and not falling from the scout before
            it, counts as "past the minimum".
        patience: Consecutive scouts past the minimum that end the scan early (one bump never does); twice as
            many above the minimum end it whether falling or not.
        finalists: How many of the best scouted batches get a full-protocol window.
        margin: A scout more than this fraction above the best scout is no finalist (the best always is): twice
            the spread of a scouting window, so a batch that is truly better is not left out for its noise.
        memory_limit_b: The device's memory in bytes; with it the scan predicts the largest batch that fits
            (:func:`memory_cap`) instead of doubling into an out-of-memory error.
        max_iter_s: The scan ends before a batch whose one iteration would take longer than this (projected
            from the last scout's mean latency): such batches are far past any use and cost most of the time.
        should_stop: Polled before each measurement; True ends the search (Ctrl-C).

    Returns:
        The :class:`SearchResult`.
    """
    run = _Runner(measure, should_stop)
    batch: int | None = max(1, min(start, max_batch))
    ladder: list[Any] = []  # successful scouts, ascending
    past = streak = 0  # scouts past the minimum (rising), and above it at all, in a row
    while batch is not None:
        out = run(batch, "scout")
        if out is None:
            return run.result
        if out.status != "ok":
            run.result.stopped = out.status
            break
        prev = ladder[-1] if ladder else None
        ladder.append(out)
        best = min(ladder, key=_epi)
        above = _epi(out) > _epi(best) * (1.0 + rise)
        # a scout above the best that still falls from its predecessor is the far side of a bump (vgg16 under
        # compile-fp16 on an H200: +39 % at batch 16, falling again from 32): it does not count as rising
        falling = prev is not None and _epi(out) < _epi(prev) * (1.0 - _FALL)
        past = past + (not falling) if above else 0
        streak = streak + 1 if above else 0
        if past >= patience or streak >= 2 * patience:
            run.result.stopped = "rising"
            break
        batch, why = _scan_next(batch, ladder, max_batch, memory_limit_b, max_iter_s)
        if batch is None:
            run.result.stopped = why
    ranked = sorted(ladder, key=lambda o: (_epi(o), o.batch_size))
    confirmed = 0
    for o in ranked:  # a finalist that fails (out of memory when compiled statically) yields its place
        if confirmed >= finalists or (confirmed and _epi(o) > _epi(ranked[0]) * (1.0 + margin)):
            break
        b = o.batch_size
        out = run(b, "full")
        if out is None:
            return run.result
        confirmed += out.status == "ok"
    return run.result


SearchFn = Callable[..., SearchResult]
SEARCHES: Registry[SearchFn] = Registry("search")
SEARCHES.register("paper")(paper_search)
SEARCHES.register("plateau")(plateau_search)
SEARCHES.register("scan")(scan_search)
#: The search a sweep uses unless told otherwise.
DEFAULT_SEARCH = "scan"


def search_kwargs(opts: Any, memory_limit_b: float | None = None) -> dict[str, Any]:
    """The keyword arguments a sweep's options give the searches (each takes what it knows, ignores the rest).

    Args:
        opts: The sweep's ``SweepOptions``.
        memory_limit_b: The device's memory in bytes, for the scan's memory prediction (None: unknown).
    """
    if opts.search == "plateau":
        return {"threshold": opts.plateau_threshold, "patience": opts.plateau_patience}
    return {
        "rise": opts.scan_rise,
        "finalists": opts.scan_finalists,
        "margin": opts.scan_margin,
        "max_iter_s": opts.scan_max_iter_s,
        "memory_limit_b": memory_limit_b,
    }


def get_search(name: str) -> SearchFn:
    """The search registered as ``name``.

    Raises:
        ConfigError: Unknown name (the message lists the known ones).
    """
    return SEARCHES.get(name)


__all__ = [
    "DEFAULT_SEARCH",
    "SEARCHES",
    "MeasureFn",
    "Outcome",
    "Point",
    "SearchResult",
    "get_search",
    "paper_search",
    "memory_cap",
    "plateau_search",
    "scan_search",
    "search_kwargs",
]
