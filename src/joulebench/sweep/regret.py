"""The batch search's regret against fixed-batch ladders, and its GPU cost against the paper protocol's.

Reads the CSV state that ``benchmarks/search_regret.py run`` writes on a GPU (``ladders.csv``: energy per image at
fixed batches; ``sweeps.csv``: what the default search chose; ``sweep-windows.csv``: every window of every sweep)
and prints the report (:func:`print_report`): per sweep its batch and energy, the ladder's best batch and energy, the
regret (the ladder's own reading at the sweep's batch over its minimum, minus one), the sweep's GPU-seconds and the
paper protocol's estimated cost; then repeats, the ladder's own spread, where the sweeps' time went, each final
against its scout and against the ladder of its board.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sqlite3
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from joulebench.sweep.regret_windows import (
    board_suffix,
    print_final_lengths,
    print_final_util,
    print_full_against_ladder,
    print_scout_against_full,
    print_time_split,
    print_windows,
    same_board,
    sweep_label,
    sweep_windows_s,
)
from joulebench.sweep.search import SEARCH_REVISION

#: Whether the card waited on the host in a window (from its trace summary): the card's mean utilisation, a launch's
#: mean host time, the launching thread's CPU share, its pre-emptions and the host's speed around the window (a fixed
#: CPU loop's seconds: :mod:`joulebench.sweep.host_cpu`), and how the worker that launched it started (``fork`` or
#: ``fresh``: forked workers launched compiled programs more slowly).
HOST_FIELDS = (
    "gpu_util_pct_mean", "host_launch_per_iter_s", "host_thread_busy_frac", "host_preemptions", "host_probe_s",
    "worker_start",
)  # fmt: skip


def window_rows(db: Path) -> list[dict[str, Any]]:
    """One row per window of the sweeps in store ``db``, in the order measured: where their GPU-seconds went.

    Each row has ``benchmarks/search_regret.py``'s ``WINDOW_FIELDS``, the window's ``ci95_rel``, its board
    (``gpu_uuid``) and when it ended (``measured_at``, ISO 8601).
    """
    con = sqlite3.connect(db)
    q = (
        "select run_id, model, runtime, batch_size, status, trace_summary, duration_s, energy_per_image_j,"
        " latency_mean_s, peak_memory_b, ci95_rel, gpu_uuid, measured_at from measurements order by id"
    )
    out = []
    try:
        for run_id, model, runtime, batch, status, ts, dur, epi, lat, peak, ci, uuid, at in con.execute(q).fetchall():
            t = json.loads(ts or "{}")
            out.append(
                {
                    "run_id": run_id, "model": model, "runtime": runtime, "batch": batch, "status": status,
                    "phase": t.get("phase", "full"),
                    "prepare_s": t.get("prepare_s"), "warmup_s": t.get("warmup_s"), "window_s": dur,
                    "energy_per_image_j": epi, "latency_mean_s": lat, "peak_memory_b": peak, "ci95_rel": ci,
                    "gpu_uuid": uuid, "measured_at": at, **{k: t.get(k) for k in HOST_FIELDS},
                }
            )  # fmt: skip
    finally:
        con.close()
    return out


def final_ci95_rel(windows: Iterable[dict[str, Any]], batch: int | None) -> float | None:
    """The 95 % interval of the full window at ``batch`` among :func:`window_rows` (None where none was taken)."""
    return next((w["ci95_rel"] for w in windows if w["batch"] == batch and w["phase"] != "scout"), None)


def subprocess_env(inductor_cache: Path) -> dict[str, str]:
    """The environment a benchmark runs ``joulebench`` in, its inductor caches in ``inductor_cache``.

    This package comes first on the path and output is unbuffered; the cache is a folder of the benchmark's own, so
    that it knows which runs start cold.
    """
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(inductor_cache), "PYTHONUNBUFFERED": "1"}
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH", "")]))
    return env


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file as dicts of strings; none when it does not exist."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, fields: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> None:
    """Write ``rows`` to a CSV file (its columns ``fields``, keys beyond them ignored, LF line ends), replacing it."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def paper_cost_s(ladder: list[dict[str, str]], overhead_s: float) -> float:
    """GPU-seconds the paper's protocol would spend on this ladder's workload (an estimate).

    Doubling from batch 1 to the largest batch that fits, then bisecting to the first that fails (as many
    steps as the largest batch has binary digits, half of them assumed to fit): each fitting batch costs its
    compile time, a 3 s warm-up and a window of max(10 s, 13 iterations); a failing one its compile time.
    Compile times and latencies below the ladder's first batch are taken from its first batch.
    """
    ok = {int(r["batch"]): r for r in ladder if r["status"] == "ok" and r["pass"] == "up"}
    if not ok:
        return math.nan
    first = min(ok)
    largest = max(ok)

    def cost(b: int, fits: bool = True) -> float:
        r = ok.get(b) or ok[max(x for x in ok if x <= b) if b >= first else first]
        prep = float(r["prepare_s"] or 0)
        lat = float(r["latency_mean_s"] or 0) * (b / int(r["batch"]) if b < first else 1.0)
        return prep + (3.0 + max(10.0, 13 * lat) if fits else 0.0)

    total = overhead_s + sum(cost(2**k) for k in range(int(math.log2(largest)) + 1))
    steps = max(1, int(math.log2(largest)))
    total += (steps / 2) * cost(largest) + (steps / 2) * cost(largest, fits=False)
    return total


def search_rev(s: dict[str, str]) -> int:
    """A sweep's search revision (``SEARCH_REVISION``); files written before the column existed hold revision 1."""
    return int(s.get("search_rev") or 1)


class BenchState(NamedTuple):
    """The CSV files of one ``--state`` folder, read once for a report."""

    ladders: list[dict[str, str]]
    sweeps: list[dict[str, str]]
    windows: list[dict[str, str]]
    #: Ladders of other boards (``report --cost-ladders``), for the paper protocol's estimate of models without a
    #: ladder here: its cost follows iteration times, which boards of one model share; regret needs the same board.
    cost_ladders: list[dict[str, str]] = []

    @classmethod
    def read(cls, state: Path) -> BenchState:
        """``ladders.csv``, ``sweeps.csv`` and ``sweep-windows.csv`` of ``state`` (a missing file: no rows)."""
        sweeps = drop_superseded(read_rows(state / "sweeps.csv"))
        return cls(read_rows(state / "ladders.csv"), sweeps, read_rows(state / "sweep-windows.csv"))

    @property
    def newest_rev(self) -> int:
        """The newest search revision among the sweeps (the current ``SEARCH_REVISION`` when there are none)."""
        return max((search_rev(s) for s in self.sweeps), default=SEARCH_REVISION)


def drop_superseded(sweeps: list[dict[str, str]]) -> list[dict[str, str]]:
    """``sweeps`` without the unfinished rows of a (model, runtime, repeat, revision) that has a later row.

    A call that left a model for the next one records it unfinished, and the next call's row replaces it.
    """
    last: dict[tuple[str, str, str, int], int] = {}
    for i, s in enumerate(sweeps):
        last[(s["model"], sweep_label(s), s["repeat"], search_rev(s))] = i
    return [
        s
        for i, s in enumerate(sweeps)
        if s["status"] == "ok" or last[(s["model"], sweep_label(s), s["repeat"], search_rev(s))] == i
    ]


def report_rows(bench: BenchState, rev: int) -> list[dict[str, Any]]:
    """One row per first sweep (repeat 0) of search revision ``rev``."""
    out = []
    for s in bench.sweeps:
        if s["repeat"] != "0" or search_rev(s) != rev:
            continue
        lad = [r for r in bench.ladders if r["model"] == s["model"] and r["runtime"] == s["runtime"]]
        # a ladder of the sweep's own board, where there is one: boards of one model differ by a few percent
        # (sweeps and ladders from before the board was recorded go together)
        lad = same_board(lad, s) or lad
        means: dict[int, list[float]] = {}
        for r in lad:
            if r["status"] == "ok":
                means.setdefault(int(r["batch"]), []).append(float(r["energy_per_image_j"]))
        mean = {b: sum(v) / len(v) for b, v in means.items()}
        row: dict[str, Any] = {"model": s["model"], "runtime": sweep_label(s), "sweep_batch": s["batch"]}
        row["sweep_mj"] = float(s["energy_per_image_j"]) * 1e3 if s["energy_per_image_j"] else math.nan
        row["gpu_s"] = float(s["gpu_seconds"]) if s["gpu_seconds"] else math.nan
        overhead_s = row["gpu_s"] - sweep_windows_s(s, bench.windows)
        b = int(s["batch"]) if s["batch"] else None
        if mean and (b is None or b in mean):  # a ladder without the sweep's batch is partial: no ground truth
            best = min(mean, key=mean.get)
            row.update(best_batch=best, best_mj=mean[best] * 1e3)
            row["regret"] = mean[b] / mean[best] - 1 if b in mean else math.nan
            row["paper_s"] = paper_cost_s(lad, overhead_s=overhead_s)
        elif other := [r for r in bench.cost_ladders if r["model"] == s["model"] and r["runtime"] == s["runtime"]]:
            row["paper_s"] = paper_cost_s(other, overhead_s=overhead_s)  # the paper's cost only: regret needs own board
        out.append(row)
    return out


def _print_pass_spread(ladder: list[dict[str, str]]) -> None:
    """The largest difference between a batch's upward and downward readings on one board.

    That is the ladder's own uncertainty.
    """
    by: dict[tuple[str, str, str, str], dict[str, float]] = {}
    for r in ladder:
        if r["status"] == "ok":
            key = (r["model"], r["runtime"], r["batch"], r.get("gpu_uuid") or "")
            by.setdefault(key, {})[r["pass"]] = float(r["energy_per_image_j"])
    spreads = [(max(v.values()) / min(v.values()) - 1, k) for k, v in by.items() if len(v) == 2]
    if spreads:
        d, (model, runtime, batch, _) = max(spreads)
        print(f"ladder passes differ by up to {100 * d:.2f} % ({model} {runtime} batch {batch})")


def _print_table(rows: list[dict[str, Any]]) -> None:
    hdr = f"{'model':44} {'runtime':19} {'sweep b':>7} {'mJ':>8} {'best b':>6} {'mJ':>8} {'regret':>7} {'GPU-s':>6}"
    print(hdr + f" {'paper s':>8} {'ratio':>6}")
    for r in rows:
        ratio = r.get("paper_s", math.nan) / r["gpu_s"] if r["gpu_s"] else math.nan
        print(
            f"{r['model']:44} {r['runtime']:19} {r['sweep_batch']:>7} {r['sweep_mj']:8.2f}"
            f" {r.get('best_batch', '-'):>6} {r.get('best_mj', math.nan):8.2f}"
            f" {100 * r.get('regret', math.nan):6.2f}% {r['gpu_s']:6.0f}"
            f" {r.get('paper_s', math.nan):8.0f} {ratio:6.1f}"
        )
    for rt in sorted({r["runtime"] for r in rows}):
        done = [r["gpu_s"] for r in rows if r["runtime"] == rt and not math.isnan(r["gpu_s"])]
        left = sum(r["runtime"] == rt for r in rows) - len(done)
        unfinished = f" ({left} sweep(s) without a result left out)" if left else ""
        print(f"median GPU-s {rt}: {statistics.median(done):.0f} over {len(done)} sweeps{unfinished}")
    for rt in sorted({r["runtime"] for r in rows}):
        ratios = [r["paper_s"] / r["gpu_s"] for r in rows if r["runtime"] == rt and r.get("paper_s") and r["gpu_s"]]
        if ratios:
            middle = statistics.median(ratios)
            print(f"paper protocol / sweep GPU-s {rt}: median {middle:.1f}x, {min(ratios):.1f}-{max(ratios):.1f}x")


def _print_earlier(bench: BenchState, rev: int, now: list[dict[str, Any]]) -> None:
    """Each earlier revision's sweeps beside this one's, where both measured the (model, runtime)."""
    here = {(r["model"], r["runtime"]): r for r in now}
    for old in sorted({search_rev(s) for s in bench.sweeps} - {rev}):
        pairs = [
            (r, here[(r["model"], r["runtime"])]) for r in report_rows(bench, old) if (r["model"], r["runtime"]) in here
        ]
        for was, is_ in pairs:
            print(
                f"revision {old} -> {rev} {was['model']} {was['runtime']}:"
                f" batch {was['sweep_batch']} -> {is_['sweep_batch']},"
                f" regret {100 * was.get('regret', math.nan):.2f} -> {100 * is_.get('regret', math.nan):.2f} %,"
                f" GPU-s {was['gpu_s']:.0f} -> {is_['gpu_s']:.0f}"
            )
        # a sweep stopped before its result has no GPU-seconds: such rows are left out of both medians
        both = [(w, n) for w, n in pairs if not (math.isnan(w["gpu_s"]) or math.isnan(n["gpu_s"]))]
        if both:
            print(
                f"revision {old} -> {rev}: median GPU-s {statistics.median([w['gpu_s'] for w, _ in both]):.0f} ->"
                f" {statistics.median([n['gpu_s'] for _, n in both]):.0f} on the same {len(both)} rows"
            )


def _print_repeats(swept: list[dict[str, str]]) -> None:
    """The spread of each (model, runtime)'s finished sweeps: per board, then across boards where there are several.

    Repeatability is a property of one board; two boards of one model read a few percent apart
    (``resnet50`` under ``torch-fp32`` on two H100 SXM boards: 3.3 %), which says nothing of the search.
    """
    by: dict[tuple[str, str], dict[str, list[float]]] = {}
    for s in swept:
        if s["energy_per_image_j"]:
            board = board_suffix(s, swept)
            by.setdefault((s["model"], sweep_label(s)), {}).setdefault(board, []).append(float(s["energy_per_image_j"]))
    for (m, rt), boards in by.items():
        groups = [(board, v) for board, v in boards.items() if len(v) > 1]
        if len(boards) > 1:
            groups.append((f" across {len(boards)} boards", [x for v in boards.values() for x in v]))
        for board, v in groups:
            print(f"repeats {m} {rt}{board}: {len(v)} runs, spread {100 * (max(v) / min(v) - 1):.2f} %")
            print(f"repeats {m} {rt}{board} mJ/img: {' '.join(f'{1e3 * x:.2f}' for x in v)}")


def print_report(state: Path, rev: int | None = None, cost_ladders: Path | None = None) -> None:
    """Print the report of a ``--state`` folder (see the module docstring).

    Args:
        state: The folder with ``ladders.csv``, ``sweeps.csv`` and ``sweep-windows.csv``.
        rev: The search revision to tabulate; None for the newest among the sweeps.
        cost_ladders: A folder whose ladders estimate the paper protocol's cost where ``state`` has none.
    """
    bench = BenchState.read(state)
    if cost_ladders is not None:
        bench = bench._replace(cost_ladders=read_rows(cost_ladders / "ladders.csv"))
    rev = rev if rev is not None else bench.newest_rev
    rows = report_rows(bench, rev)
    print(f"search revision {rev}")
    _print_table(rows)
    _print_earlier(bench, rev, rows)
    swept = [s for s in bench.sweeps if search_rev(s) == rev]
    _print_repeats(swept)
    _print_pass_spread(bench.ladders)
    ids = {s.get("run_id") for s in swept}
    print_windows([w for w in bench.windows if not w.get("run_id") or w["run_id"] in ids])
    print_time_split(swept, bench.windows)
    print_scout_against_full(swept, bench.windows)
    print_full_against_ladder(swept, bench.windows, bench.ladders)
    print_final_util(swept, bench.windows)
    print_final_lengths(swept, bench.windows)
    regrets = [r["regret"] for r in rows if not math.isnan(r.get("regret", math.nan))]
    if regrets:
        print(f"max regret {100 * max(regrets):.1f} %")
