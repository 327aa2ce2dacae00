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
  that unless the last two scouts both read over 4 % above the best), stopping early only when ``patience`` (2)
  consecutive scouts read more than ``rise`` (10 %) above the best one without falling from their predecessor: a
  single bump never ends it. The batch doubles, or quadruples while the last doubling left the iteration time
  nearly unchanged (launch-bound: energy per image still falls about as fast as the batch grows). Then the best
  scouted batch and the best scout of each other part of the curve (4x larger or smaller than every finalist
  before it) whose scout read within ``margin`` (8 %) of it, up to ``finalists`` (3) in all and two at least, are
  measured with the full protocol and the best one wins: a neighbour on a flat bottom tells little, and a curve
  with two low parts needs a final on each. The scan lives in :mod:`~joulebench.sweep.scan`. Measured against
  fixed-batch ladders (docs/validation/search.md), where the plateau rule stopped on noise or a bump before the
  minimum.
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

from collections.abc import Callable
from typing import Any

from joulebench.registry import Registry
from joulebench.sweep.scan import memory_cap, scan_search
from joulebench.sweep.search_result import (
    AheadFn,
    MeasureFn,
    Outcome,
    Point,
    SearchResult,
    SearchRunner,
    bisect_fit,
    energy_of,
    next_batch,
)


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
    run = SearchRunner(measure, should_stop)
    batch: int | None = max(1, min(start, max_batch))
    last_ok: int | None = None
    while batch is not None:
        out = run(batch, "full")
        if out is None:
            return run.result
        if out.status != "ok":
            run.result.stopped = out.status
            if out.status == "oom" and last_ok is not None:
                bisect_fit(run, last_ok, batch, "full")
            return run.result
        last_ok = batch
        batch = next_batch(batch, max_batch)
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
    ahead: AheadFn | None = None,
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
        ahead: Told the first batch above 1 before the upward search, and the final candidates before their finals.

    Returns:
        The :class:`SearchResult`.
    """
    run = SearchRunner(measure, should_stop, ahead)
    up = "scout" if scout else "full"
    batch: int | None = max(1, min(start, max_batch))
    run.expect([max(2, batch)] if batch < max_batch else [], up)
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
        if best is None or energy_of(out) < energy_of(best) * (1.0 - threshold):
            flat = 0
        else:
            flat += 1
        if best is None or energy_of(out) < energy_of(best):
            best = out
        falling = prev is not None and energy_of(out) < energy_of(prev) * (1.0 - threshold)
        prev = out
        if flat >= patience and not (falling and flat < 2 * patience):
            run.result.stopped = "plateau"
            break
        batch = next_batch(batch, max_batch)
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
    run.expect(candidates, "full")
    for c in candidates:
        if run(c, "full") is None:
            return run.result
    return run.result


#: Revision of the searches' code, recorded in each run's provenance (``search_revision``): their rules change
#: without their options. 1: the first scan (doubling from batch 1, a 0.5 s iteration limit, two finalists always);
#: 2: quadrupling while launch-bound, iterations up to 1.5 s, a second finalist only within 4 % of the best scout;
#: 3: costly scouts stop only after two high scouts in a row, far finalists first, blocked window intervals;
#: 4: a second finalist within 6 % of the best scout (the spread of the difference of two scouts, twice);
#: 5: a launch-bound final taken while the host ran over 10 % slower than at its fastest is measured once more;
#: 6: up to three finalists, each from another part of the curve (4x apart), within 8 % of the best scout; costly
#: scouts end after two scouts over 4 % above the best (was 2 %).
SEARCH_REVISION = 6

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
    "SEARCH_REVISION",
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
