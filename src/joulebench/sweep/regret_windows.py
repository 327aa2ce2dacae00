"""The regret report's lines on a sweep's windows: where its GPU-seconds went and how its finals read.

Each sweep is named by :func:`sweep_name`; its windows are the rows of ``sweep-windows.csv`` with its run and model
(:func:`own_windows`). :mod:`joulebench.sweep.regret` prints these lines after its table.
"""

from __future__ import annotations

import statistics

from joulebench.sweep.summary import LAUNCH_BOUND_UTIL_PCT


def sweep_label(s: dict[str, str]) -> str:
    """A sweep's runtime as the report shows it, with how it differs from the default sweep.

    ``compile-fp16/static`` with static scouts, ``compile-fp16/worker-start-fresh`` with
    ``SWEEP_FLAGS="--worker-start fresh"``.
    """
    flags = "-".join(f.lstrip("-") for f in (s.get("flags") or "").split())
    return s["runtime"] + ("/static" if s.get("scouts") == "static" else "") + (f"/{flags}" if flags else "")


def board_suffix(s: dict[str, str], sweeps: list[dict[str, str]]) -> str:
    """`` board N`` where the (model, runtime) of sweep ``s`` was swept on more than one board, else "".

    The boards are numbered in the order of their first sweep among ``sweeps``.
    """
    boards: list[str] = []
    for x in sweeps:
        board = x.get("gpu_uuid") or ""
        if (x["model"], sweep_label(x)) == (s["model"], sweep_label(s)) and board not in boards:
            boards.append(board)
    return f" board {boards.index(s.get('gpu_uuid') or '') + 1}" if len(boards) > 1 else ""


def sweep_name(s: dict[str, str], sweeps: list[dict[str, str]]) -> str:
    """``model runtime #repeat`` of a sweep, as the report's lines name it.

    :func:`board_suffix` follows, so that two boards' first repeats stay apart.
    """
    return f"{s['model']} {sweep_label(s)} #{s['repeat']}{board_suffix(s, sweeps)}"


def same_board(rows: list[dict[str, str]], s: dict[str, str]) -> list[dict[str, str]]:
    """The ``rows`` measured on the board of sweep ``s``.

    Rows and sweeps from before the board was recorded go together.
    """
    return [r for r in rows if (r.get("gpu_uuid") or "") == (s.get("gpu_uuid") or "")]


def windows_s(windows: list[dict[str, str]]) -> float:
    """Seconds spent preparing, warming up and measuring in ``windows``."""
    return sum(float(w[k] or 0) for w in windows for k in ("prepare_s", "warmup_s", "window_s"))


def own_windows(s: dict[str, str], windows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows of ``windows`` that sweep ``s`` measured.

    One measure call of several models is one run: its windows are told apart by model.
    """
    return [w for w in windows if s.get("run_id") and w.get("run_id") == s["run_id"] and w["model"] == s["model"]]


def sweep_windows_s(s: dict[str, str], windows: list[dict[str, str]]) -> float:
    """The part of a sweep's GPU-seconds spent in its windows (preparing, warming up, measuring).

    The rest is start-up (process, imports, idle baseline, model build) and exit, which the paper's protocol pays
    too. From ``sweep-windows.csv`` where it has the sweep's run; else 1 s per scout and 5 s per final (rough).
    """
    mine = own_windows(s, windows)
    if mine:
        return windows_s(mine)
    return len(s["scouted"].split()) * 1.0 + len(s["finals"].split()) * 5.0


def print_windows(windows: list[dict[str, str]]) -> None:
    """Where a sweep's time went, from its windows (``sweep-windows.csv``: one row per window of the sweep)."""
    by: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for w in windows:  # one sweep per run (files written before run_id was kept: one per model and runtime)
        by.setdefault((w["model"], w["runtime"], w.get("run_id") or ""), []).append(w)
    for (model, runtime, _), ws in by.items():
        prep = sum(float(w["prepare_s"] or 0) for w in ws)
        measured = sum(float(w["warmup_s"] or 0) + float(w["window_s"] or 0) for w in ws)
        big = ", ".join(
            f"{w['batch']} {w['phase']} {float(w['prepare_s']):.0f} s" for w in ws if float(w["prepare_s"] or 0) >= 5
        )
        print(
            f"windows {model} {runtime}: {len(ws)}, prepare/compile {prep:.0f} s{f' ({big})' if big else ''},"
            f" warm-up + windows {measured:.0f} s"
        )


def print_scout_against_full(sweeps: list[dict[str, str]], windows: list[dict[str, str]]) -> None:
    """Per sweep, each batch measured both as a scout and in full: the full window's reading against the scout's.

    Scouts only rank batches, so a difference common to all batches does no harm; one that varies with the batch
    (a compiled runtime's dynamic-batch scouting program against the static program of a final) can reorder them.
    """
    for s in sweeps:
        mine = [w for w in own_windows(s, windows) if w["status"] == "ok" and w["energy_per_image_j"]]
        scout = {w["batch"]: float(w["energy_per_image_j"]) for w in mine if w["phase"] == "scout"}
        pairs = [(w["batch"], float(w["energy_per_image_j"])) for w in mine if w["phase"] != "scout"]
        both = [f"{b} {100 * (e / scout[b] - 1):+.1f} %" for b, e in pairs if b in scout]
        if both:
            print(f"full vs scout {sweep_name(s, sweeps)}: {', '.join(both)}")


def print_full_against_ladder(
    sweeps: list[dict[str, str]], windows: list[dict[str, str]], ladders: list[dict[str, str]]
) -> None:
    """Per sweep, each final's energy and iteration time against the ladder of its own board at the same batch.

    Both run the same static program for the same batch, so they should agree within the ladder's own spread; a
    final whose iterations take longer than the ladder's ran host-bound in the sweep's worker, and its energy per
    image reads high for a reason the ladder does not share. Where the windows recorded them, the card's mean
    utilisation and a launch's host time follow, the final's before the ladder's.
    """
    for s in sweeps:
        lad_rows = [
            r for r in ladders if (r["model"], r["runtime"]) == (s["model"], s["runtime"]) and r["status"] == "ok"
        ]
        own = same_board(lad_rows, s) if s.get("gpu_uuid") else []  # a sweep without its board has no own ladder
        lad: dict[str, list[dict[str, str]]] = {}
        for r in own:
            if r["energy_per_image_j"] and r["latency_mean_s"]:
                lad.setdefault(r["batch"], []).append(r)
        both = []
        for w in own_windows(s, windows):
            if w["phase"] == "scout" or w["status"] != "ok" or w["batch"] not in lad or not w["latency_mean_s"]:
                continue
            e, t = (_mean(lad[w["batch"]], k) for k in ("energy_per_image_j", "latency_mean_s"))
            gap, ratio = float(w["energy_per_image_j"]) / e - 1, float(w["latency_mean_s"]) / t
            host = host_against_ladder(w, lad[w["batch"]])
            both.append(f"{w['batch']} {100 * gap:+.1f} % (time x{ratio:.2f}{host})")
        if both:
            print(f"full vs ladder {sweep_name(s, sweeps)}: {', '.join(both)}")


def _mean(rows: list[dict[str, str]], key: str) -> float | None:
    """The mean of ``key`` over the rows that recorded it, None where none did."""
    values = [float(r[key]) for r in rows if r.get(key)]
    return statistics.fmean(values) if values else None


def host_against_ladder(window: dict[str, str], ladder: list[dict[str, str]]) -> str:
    """``, GPU util 49 vs 93 %, launch 4.10 vs 2.05 ms, ...``: the parts the window (and the ladder) recorded.

    The launching thread's busy share tells a slower launch (busy in both, launch longer) from a thread that was
    pre-empted or blocked (busy less); the host probe (stores that have it) tells a slower host from slower work.
    """
    out = ""
    for key, name, scale, fmt, unit in (
        ("gpu_util_pct_mean", "GPU util", 1.0, ".0f", " %"),
        ("host_launch_per_iter_s", "launch", 1e3, ".2f", " ms"),
        ("host_thread_busy_frac", "thread busy", 100.0, ".0f", " %"),
        ("host_probe_s", "host probe", 1e3, ".2f", " ms"),
    ):
        mine, theirs = window.get(key), _mean(ladder, key)
        if mine:
            out += f", {name} {float(mine) * scale:{fmt}}"
            out += f" vs {theirs * scale:{fmt}}{unit}" if theirs is not None else unit
    return out


def print_time_split(sweeps: list[dict[str, str]], windows: list[dict[str, str]]) -> None:
    """Each sweep's GPU-seconds split into start-up, scouts and finals, and their ranges per runtime.

    Start-up is the time outside its windows (the worker's start, idle baseline, model build, exit); scouts and
    finals are preparing, warming up and measuring. Sweeps without their own windows in ``sweep-windows.csv`` are
    left out.
    """
    by: dict[str, list[tuple[float, float, float]]] = {}
    for s in sweeps:
        mine = own_windows(s, windows)
        if not mine or not s["gpu_seconds"]:
            continue
        scouts = windows_s([w for w in mine if w["phase"] == "scout"])
        finals = windows_s([w for w in mine if w["phase"] != "scout"])
        split = (float(s["gpu_seconds"]) - scouts - finals, scouts, finals)
        by.setdefault(sweep_label(s), []).append(split)
        print(f"time {sweep_name(s, sweeps)}: start-up {split[0]:.1f} s, scouts {scouts:.1f} s, finals {finals:.1f} s")
    for runtime, v in by.items():
        lo, hi = [min(x) for x in zip(*v, strict=True)], [max(x) for x in zip(*v, strict=True)]
        print(
            f"time {runtime}: start-up {lo[0]:.1f}-{hi[0]:.1f} s, scouts {lo[1]:.1f}-{hi[1]:.1f} s,"
            f" finals {lo[2]:.1f}-{hi[2]:.1f} s over {len(v)} sweeps"
        )


def print_final_util(sweeps: list[dict[str, str]], windows: list[dict[str, str]]) -> None:
    """Per runtime, the range of the card's mean utilisation in the final windows that recorded it.

    Also how many of them were launch-bound (under :data:`~joulebench.sweep.summary.LAUNCH_BOUND_UTIL_PCT`).
    """
    by: dict[str, list[float]] = {}
    for s in sweeps:
        for w in own_windows(s, windows):
            if w["phase"] != "scout" and w["status"] == "ok" and w.get("gpu_util_pct_mean"):
                by.setdefault(sweep_label(s), []).append(float(w["gpu_util_pct_mean"]))
    for runtime, v in by.items():
        parts = []
        for name, group in (
            (f"under {LAUNCH_BOUND_UTIL_PCT:.0f} %", [u for u in v if u < LAUNCH_BOUND_UTIL_PCT]),
            ("above", [u for u in v if u >= LAUNCH_BOUND_UTIL_PCT]),
        ):
            if group:
                parts.append(f"{len(group)} {name} ({min(group):.1f}-{max(group):.1f} %)")
        print(f"GPU util in finals {runtime}: {len(v)} windows, {', '.join(parts)}")


def print_final_lengths(sweeps: list[dict[str, str]], windows: list[dict[str, str]]) -> None:
    """Per runtime, how long each sweep's first final window lasted, and its later finals.

    A full window is extended until its interval reaches the target precision; the first final follows the scouts'
    short windows while the card is still warming, and its drifting power widens the interval.
    """
    by: dict[str, tuple[list[float], list[float]]] = {}
    for s in sweeps:
        finals = [float(w["window_s"]) for w in own_windows(s, windows) if w["phase"] != "scout" and w["window_s"]]
        if finals:
            first, later = by.setdefault(sweep_label(s), ([], []))
            first.append(finals[0])
            later.extend(finals[1:])
    for runtime, (first, later) in by.items():
        rest = f", later {min(later):.1f}-{max(later):.1f} s (median {statistics.median(later):.1f})" if later else ""
        print(
            f"final windows {runtime}: first {min(first):.1f}-{max(first):.1f} s"
            f" (median {statistics.median(first):.1f}){rest} over {len(first)} sweeps"
        )
