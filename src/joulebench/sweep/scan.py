"""The default batch-size search, ``scan``: scout to the memory limit, then confirm the best scouts in full.

How it works is told in :mod:`~joulebench.sweep.search` (with the other searches) and docs/MEASUREMENT.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from joulebench.sweep.search_result import AheadFn, MeasureFn, SearchResult, SearchRunner, energy_of, next_batch

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
#: A costly scout is taken unless the last two scouts both read more than this fraction above the best one: a flat
#: or falling curve may still reach its minimum at a batch that large (convnext_tiny on an H100: 2.4 % lower at
#: batch 4096 than at 256), a rising one does not repay seconds per scout. Twice a scout's 2 % noise: at 2 %, two
#: noisy scouts in a row ended convnext_tiny's replayed scan at 1024 in one seed of twenty.
_FLAT = 0.04


def _rising(ladder: list[Any]) -> bool:
    """Whether the last two scouts both read more than ``_FLAT`` above the best one: one bump never counts.

    A card warming up during the scan reads later (larger) batches a percent or two higher, and a scout's window
    is short: one scout above the band says little (convnext_tiny on an H100 read 2.9 % above its best at batch
    1024, and its minimum lay at 4096).
    """
    if len(ladder) < 3:
        return False
    floor = energy_of(min(ladder, key=energy_of)) * (1.0 + _FLAT)
    return all(energy_of(o) > floor for o in ladder[-2:])


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
    nxt = next_batch(batch, max_batch)
    if nxt is None:
        return None, "max_batch"
    if _launch_bound(ladder):
        nxt = min(batch * 4, max_batch)
    latency = getattr(ladder[-1], "latency_mean_s", None)
    if max_iter_s is not None and latency is not None:
        projected = latency * nxt / batch
        # a scout of over a third of the limit costs seconds: taken only while the curve may still be at its best
        costly = projected > max_iter_s * _COSTLY_SHARE and _rising(ladder)
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
    finalists: int = 3,
    margin: float = 0.08,
    memory_limit_b: float | None = None,
    max_iter_s: float | None = 1.5,
    should_stop: Callable[[], bool] | None = None,
    ahead: AheadFn | None = None,
    **_: Any,
) -> SearchResult:
    """Scout to the memory limit, then confirm the best scouted batches with full windows.

    A final that ran launch-bound on a host running over :data:`~joulebench.sweep.summary.HOST_SLOW` slower than at
    its fastest in the task is measured once more; the lower reading counts.

    Args:
        measure: ``measure(batch_size, phase)``.
        max_batch: Largest batch to try.
        start: First batch size.
        rise: A scout more than this fraction above the best scout so far, and not falling from the scout before
            it, counts as "past the minimum".
        patience: Consecutive scouts past the minimum that end the scan early (one bump never does); twice as
            many above the minimum end it whether falling or not.
        finalists: The most scouted batches confirmed with a full-protocol window: the best scout, then the best
            scouts of other parts of the curve (:func:`_finalists`); two where the curve has only one part.
        margin: A scout more than this fraction above the best scout is no finalist (the best always is): about
            three times the spread of the difference of two scouting windows (2 % each), so a batch that is truly
            better is not left out for its noise (a scout 6.5 % low, over three standard deviations, was seen).
        memory_limit_b: The device's memory in bytes; with it the scan predicts the largest batch that fits
            (:func:`memory_cap`) instead of doubling into an out-of-memory error.
        max_iter_s: The scan ends before a batch whose one iteration would take longer than this (projected
            from the last scout's mean latency): such batches are far past any use and cost most of the time.
        should_stop: Polled before each measurement; True ends the search (Ctrl-C).
        ahead: Told the scouts' first batches above 1 before scouting, and the finalists before their finals.

    Returns:
        The :class:`SearchResult`.
    """
    run = SearchRunner(measure, should_stop, ahead)
    batch: int | None = max(1, min(start, max_batch))
    run.expect([max(2, batch)] if batch < max_batch else [], "scout")
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
        best = min(ladder, key=energy_of)
        above = energy_of(out) > energy_of(best) * (1.0 + rise)
        # a scout above the best that still falls from its predecessor is the far side of a bump (vgg16 under
        # compile-fp16 on an H200: +39 % at batch 16, falling again from 32): it does not count as rising
        falling = prev is not None and energy_of(out) < energy_of(prev) * (1.0 - _FALL)
        past = past + (not falling) if above else 0
        streak = streak + 1 if above else 0
        if past >= patience or streak >= 2 * patience:
            run.result.stopped = "rising"
            break
        batch, why = _scan_next(batch, ladder, max_batch, memory_limit_b, max_iter_s)
        if batch is None:
            run.result.stopped = why
    if not _confirm(run, *_finalists(ladder, margin, finalists)):
        return run.result
    for o in _host_slowed(run.result.ok("full"), run.result.ok()):
        if run.again(o.batch_size, "full") is None:
            break
    return run.result


def _confirm(run: SearchRunner, order: list[Any], wanted: int) -> bool:
    """Measure finalists in full, in ``order``, until ``wanted`` succeeded; False when the search was stopped.

    A finalist that fails in full (out of memory when compiled statically) yields its place to the next one.
    """
    run.expect([o.batch_size for o in order[:wanted]], "full")
    confirmed = 0
    for o in order:
        if confirmed >= wanted:
            break
        out = run(o.batch_size, "full")
        if out is None:
            return False
        confirmed += out.status == "ok"
    return True


def _host_slowed(finals: list[Any], outcomes: list[Any]) -> list[Any]:
    """The finals that ran launch-bound on a host over ``HOST_SLOW`` slower than at its fastest in ``outcomes``.

    The summary's rules (:data:`~joulebench.sweep.summary.HOST_SLOW`); outcomes without a trace summary (replays,
    tests' points) or without the host probe never qualify.
    """
    from joulebench.sweep.summary import HOST_SLOW, host_slowdown, launch_bound_util  # not its imports at load

    return [
        o
        for o in finals
        if (host_slowdown(o, outcomes) or 0.0) > HOST_SLOW
        and launch_bound_util(getattr(o, "trace_summary", None), getattr(o, "method", None)) is not None
    ]


#: Two scouts at least this factor apart in batch size lie on different parts of the curve.
_APART = 4


def _apart(a: Any, b: Any) -> bool:
    """Whether scouts ``a`` and ``b`` lie on different parts of the curve (``_APART`` times apart in batch)."""
    return max(a.batch_size, b.batch_size) >= _APART * min(a.batch_size, b.batch_size)


def _finalists(ladder: list[Any], margin: float, most: int) -> tuple[list[Any], int]:
    """The scouts in the order they become finalists, and how many finals to confirm.

    The best scout comes first; then, best first, the scouts within ``margin`` of it that lie at least ``_APART``
    times away from every finalist before them, up to ``most`` in all; then the rest within ``margin``, nearest in
    energy first, to fill two places or to stand in for a finalist that fails in full. On a flat bottom the best
    scout's neighbours read within a percent of it and confirming one tells little; a batch far from it whose scout
    read nearly as well may be the true minimum that a short window hid (convnext_tiny on an H100: 2.4 % lower at
    batch 4096 than at 512), and a curve with two low parts and a plateau needs one final on each (mobilenetv3
    under compile-fp16: least at 128, 3 % above from 512 to 2048, and scouts of 2 % noise rank the three in any
    order).
    """
    ranked = sorted(ladder, key=lambda o: (energy_of(o), o.batch_size))
    if not ranked:
        return [], 0
    best = ranked[0]
    near = [o for o in ranked[1:] if energy_of(o) <= energy_of(best) * (1.0 + margin)]
    spread = [best]
    for o in near:
        if len(spread) < most and all(_apart(o, f) for f in spread):
            spread.append(o)
    order = spread + [o for o in near if o not in spread]
    return order, min(len(order), max(len(spread), min(2, most)))


__all__ = ["memory_cap", "scan_search"]
