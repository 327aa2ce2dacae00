"""Stored results that the current batch search would not have ended where they did.

When the batch search changes (the scan search replaced the plateau rule, which stopped on bumps), results
measured under the old rule may have stopped early. Their stored scouting ladder says so without measuring
anything: replaying the current rule on it (:func:`first_unscouted`) either ends where
the ladder ends, or asks for a batch the ladder lacks. ``joulebench measure --redo-stale`` measures the second
kind again; ``joulebench results --stale`` lists them.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from functools import partial
from typing import Any, NamedTuple

from joulebench.sweep.search import DEFAULT_SEARCH, Point, get_search
from joulebench.sweep.tasks import CPU_MAX_BATCH, HARD_MAX_BATCH, SweepOptions

Key = tuple[str, int, str]


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
    search: str = "plateau",
    **kwargs: Any,
) -> int | None:
    """The first batch a search would scout that a stored ladder lacks, or None.

    Replays a search (by default the plateau rule; ``scan`` for the current default) on scouting outcomes
    measured earlier, to audit results taken under an older rule: a batch is returned when the search would not
    have stopped where the stored ladder ends (the plateau rule stopped on bumps that the scan looks past).

    Args:
        scouted: Scouting outcomes by batch size (``status``, ``energy_per_image_j``; ``oom`` ends the ladder).
        max_batch: The search's largest batch.
        start: Its first batch.
        search: The registered search to replay.
        **kwargs: The search's own settings (``threshold`` and ``patience`` for plateau, ``rise``, ``patience``
            and ``max_iter_s`` for scan).

    Returns:
        The first batch size missing from ``scouted`` that the upward search would measure, or None.
    """
    asked: list[int] = []

    def replay(batch: int, phase: str) -> Any:
        if phase != "scout":  # the upward search is over: refinement measures in full
            raise _Replayed(None)
        if batch not in scouted:
            # A scout between the last one asked for and this one is the scan's predicted memory limit (nothing
            # else leaves the doubling grid): the stored search ended there, at the largest batch that fits.
            if asked and any(asked[-1] < b < batch for b in scouted):
                raise _Replayed(None)
            raise _Replayed(batch)
        asked.append(batch)
        return scouted[batch]

    try:
        get_search(search)(replay, max_batch=max_batch, start=start, **kwargs)
    except _Replayed as r:
        return r.batch
    return None


class Judgment(NamedTuple):
    """One stale result as judged: what the sweep and ``results --stale`` report, and the ladder it was judged on.

    Attributes:
        next_batch: The batch the current rule would scout next.
        row: The ``Store.finished_results`` row judged (the key's latest).
        expected_change: :func:`expected_change` at ``next_batch``.
        ladder: The result's scouting windows as read, ``(batch_size, status, energy_per_image_j, latency_mean_s,
            peak_memory_b)``.
    """

    next_batch: int
    row: Mapping[str, Any]
    expected_change: float
    ladder: list[tuple[Any, ...]]


#: The worker's scan predicted the memory limit from CUDA's figure for the device's memory, which can lie below
#: NVML's (what the run's provenance records) by what the driver reserves (a levit_256 sweep on an H100 80GB HBM3
#: predicted 15432 where NVML's figure gives 15528: about 0.6 % less). A replay is judged with NVML's figure and
#: with this share of it, and continued only if both continue, so a result near the prediction's threshold is not
#: measured again for want of the exact figure.
_CUDA_MEMORY_SHARE = 0.98


def next_scout(
    config: Mapping[str, Any],
    ladder: Iterable[tuple[Any, ...]],
    *,
    runtime: str | None = None,
    ceiling: int | None = None,
    memory_b: float | None = None,
) -> int | None:
    """The batch the current default search would scout next on a stored ladder, or None if it would stop there.

    The current default is the scan search (:data:`~joulebench.sweep.search.DEFAULT_SEARCH`): results of the
    plateau search are judged by it too (it looks past the bumps the plateau rule stopped on); results of a scan
    are judged with their own scan settings and, given ``memory_b``, the memory limit it predicted: a scan that
    ended where its next batch would not fit is not continued by its own replay. The paper's search measured every
    batch to the memory limit and is never stale.

    Args:
        config: The run's protocol configuration (``SweepOptions.to_config()``, stored on the run): its
            ``search``, ``start_batch``, ``max_batch`` and ``scan_*`` settings.
        ladder: The result's scouting windows as ``(batch_size, status, energy_per_image_j[, latency_mean_s[,
            peak_memory_b]])``; with latencies the scan's time limit is replayed too, else it is judged on energy.
        runtime: The runtime's name; a CPU runtime's search stops at its own largest batch, as in the worker.
        ceiling: A largest batch below a crash (``Store.crash_ceilings``): the search was capped there.
        memory_b: The device's memory in bytes (the run's provenance), for a scan's memory prediction. Results of
            other searches doubled into their out-of-memory error and are judged without it.

    Returns:
        The first batch size missing from the ladder, or None: the search would end where the ladder ends, the
        run used the paper's search, or there is no ladder to judge.
    """
    search = config.get("search", "plateau")
    if search == "paper":
        return None
    points = {int(p[0]): _point(p) for p in ladder}
    if not points:
        return None
    cap = config.get("max_batch") or (CPU_MAX_BATCH if _on_cpu(runtime) else HARD_MAX_BATCH)
    if ceiling is not None:
        cap = min(cap, ceiling)
    scan = SweepOptions.from_dict({k: v for k, v in config.items() if k.startswith("scan_")})

    replay = partial(
        first_unscouted,
        points,
        max_batch=cap,
        start=min(config.get("start_batch", 1), cap),
        search=DEFAULT_SEARCH,
        rise=scan.scan_rise,
        max_iter_s=scan.scan_max_iter_s,
    )
    if search != DEFAULT_SEARCH or memory_b is None:
        return replay(memory_limit_b=None)
    nxt = replay(memory_limit_b=memory_b)
    # continued only if it is with the smaller figure too: the worker's own prediction lay between the two
    return nxt if nxt is not None and replay(memory_limit_b=memory_b * _CUDA_MEMORY_SHARE) is not None else None


def _point(p: tuple[Any, ...]) -> Point:
    """A stored scouting window, ``(batch_size, status, energy_per_image_j[, latency_mean_s[, peak_memory_b]])``."""
    latency, peak = (*p[3:5], None, None)[:2]
    return Point(int(p[0]), p[1], p[2], "scout", latency_mean_s=latency, peak_memory_b=peak)


def expected_change(ladder: Iterable[tuple[Any, ...]], next_batch: int) -> float:
    """How much lower than the best scout the next scout is expected to read, as a fraction (0 when not lower).

    The last two successful scouts' slope is extended in log-log space to ``next_batch``: a search cut short
    while energy per image was still falling expects the most; one that stopped on a rise expects nothing from
    the next doubling (it is measured again all the same, as the scan looks past bumps). Scouts are compared
    with scouts only, since a compile runtime scouts on another graph than its final windows.

    Args:
        ladder: ``(batch_size, status, energy_per_image_j, ...)`` of the result's scouting windows.
        next_batch: The batch the current rule would scout next.
    """
    ok = sorted((int(p[0]), float(p[2])) for p in ladder if p[1] == "ok" and p[2])
    if len(ok) < 2 or next_batch <= ok[-1][0]:
        return 0.0
    (b0, e0), (b1, e1) = ok[-2], ok[-1]
    slope = math.log(e1 / e0) / math.log(b1 / b0)
    predicted = e1 * (next_batch / b1) ** slope
    best = min(e for _, e in ok)
    return max(0.0, 1.0 - predicted / best)


def _on_cpu(runtime: str | None) -> bool:
    from joulebench.runtimes import runtime_names

    if runtime is None or runtime not in runtime_names():  # a runtime this install lacks: judged as a GPU one
        return False
    from joulebench.runtimes import get_runtime_class

    return getattr(get_runtime_class(runtime), "device_type", None) == "cpu"


def stale_results(
    store: Any,
    finished: Iterable[Mapping[str, Any]],
    ceilings: Mapping[Key, tuple[int, int]],
    only: Collection[Key] | None = None,
) -> dict[Key, int]:
    """The latest finished result per (model, img_size, runtime) whose search the current rule would continue.

    Args:
        store: A :class:`~joulebench.store.Store` (for the results' scouting ladders).
        finished: ``Store.finished_results`` rows, over every device of the sweep as resume reads them; a key's
            latest one is judged.
        ceilings: ``Store.crash_ceilings`` of the same results, as the sweep caps its tasks with them: a search
            capped below a crash is judged up to that cap.
        only: Judge only these keys (a sweep's own finished tasks): each judged key costs a query of its
            scouting ladder, so a small sweep on a large store stays quick. None judges every key.

    Returns:
        ``{key: the batch its search would scout next}`` for the results to measure again.
    """
    return {key: j.next_batch for key, j in _judged(store, finished, ceilings, only).items()}


def stale_with_changes(
    store: Any,
    finished: Iterable[Mapping[str, Any]],
    ceilings: Mapping[Key, tuple[int, int]],
    only: Collection[Key] | None = None,
) -> dict[Key, tuple[int, float]]:
    """Like :func:`stale_results`, each key with its next batch and its :func:`expected_change`."""
    return {key: (j.next_batch, j.expected_change) for key, j in _judged(store, finished, ceilings, only).items()}


def _judged(
    store: Any,
    finished: Iterable[Mapping[str, Any]],
    ceilings: Mapping[Key, tuple[int, int]],
    only: Collection[Key] | None = None,
) -> dict[Key, Judgment]:
    """The stale keys among ``finished``, each with its next batch, the row judged, its expected change and ladder.

    The next batch is the one the current rule would scout; the change is :func:`expected_change`. ``finished``
    are ``Store.finished_results`` rows in the order saved; a key's latest one is judged.
    """
    latest: dict[Key, Mapping[str, Any]] = {}
    for r in finished:
        key = (r["model"], r["img_size"], r["runtime"])
        if only is not None and key not in only:
            continue
        if key not in latest or (r["finished_at"] or "") >= (latest[key]["finished_at"] or ""):
            latest[key] = r
    out: dict[Key, Judgment] = {}
    for key, r in sorted(latest.items()):
        ladder = store.scout_ladder(r["run_id"], *key, with_latency=True)
        ceiling = ceilings.get(key, (None,))[0]
        nxt = next_scout(r["config"] or {}, ladder, runtime=key[2], ceiling=ceiling, memory_b=r.get("gpu_memory_b"))
        if nxt is not None:
            out[key] = Judgment(nxt, r, expected_change(ladder, nxt), ladder)
    return out


def stale_by_setup(store: Any, *, with_ladder: bool = False) -> list[dict[str, Any]]:
    """Every stale result in a store, judged per GPU model and meter (what ``joulebench results --stale`` lists).

    Args:
        store: A :class:`~joulebench.store.Store`.
        with_ladder: Also give each row the scouting ladder it was judged on, so a caller that shows the ladder
            does not query it again.

    Returns:
        Rows of ``model``, ``img_size``, ``runtime``, ``gpu_name``, ``meter``, ``run_id`` (of the result judged),
        ``next_batch`` (the batch the current rule would scout next) and ``expected_change`` (a fraction, see
        :func:`expected_change`), largest expected change first (ties by setup, then key); with ``with_ladder``
        also ``ladder``: ``(batch_size, status, energy_per_image_j, latency_mean_s, peak_memory_b)`` of its
        scouting windows, in the order measured.
    """
    by_setup: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for r in store.finished_results(None):  # read once, judged per setup
        by_setup.setdefault((r["gpu_name"], r["meter"]), []).append(r)
    rows = []
    for (gpu, meter), finished in sorted(by_setup.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        ceilings = store.crash_ceilings(None, meter=meter, gpu_name=gpu)  # as a sweep on that GPU would cap
        for (model, size, runtime), j in _judged(store, finished, ceilings).items():
            row = {"model": model, "img_size": size, "runtime": runtime, "gpu_name": gpu, "meter": meter}
            row.update(run_id=j.row["run_id"], next_batch=j.next_batch, expected_change=j.expected_change)
            rows.append({**row, "ladder": j.ladder} if with_ladder else row)
    rows.sort(key=lambda r: -r["expected_change"])  # stable: ties keep the setup and key order
    return rows


def stale_message(stale: Mapping[Key, int], shown: int = 10) -> str:
    """The sweep's log line for the results it measures again (the first ``shown`` named, then a count)."""
    names = ", ".join(f"{m}@{s} {rt} (next batch {nxt})" for (m, s, rt), nxt in list(stale.items())[:shown])
    more = f" and {len(stale) - shown} more" if len(stale) > shown else ""
    head = f"measuring again {len(stale)} result(s) whose batch search the current rule would have continued"
    return f"{head}: {names}{more}"


def stale_kept_message(count: int, min_change: float) -> str:
    """The sweep's log line for the stale results that ``--min-change`` leaves as they are."""
    return (
        f"leaving {count} stale result(s) as they are: expected to read less than {100 * min_change:.2g} % lower "
        "(--min-change)"
    )


def stale_hint(stale: Mapping[Key, int]) -> str:
    """The sweep's log line when it skips results measured under an older batch-search rule without ``--redo-stale``."""
    return (
        f"{len(stale)} of the skipped result(s) were measured under an older batch-search rule that stopped early "
        "(`joulebench results --stale` lists them); add --redo-stale to measure them again"
    )
