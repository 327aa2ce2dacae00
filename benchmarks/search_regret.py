"""How close does the batch search come to the true minimum, and at what GPU cost?

Three modes:

``run`` (on a GPU) -- for each (model, runtime) of a panel, in priority order until ``--deadline``:

1. the sweep as a user runs it (``joulebench measure MODEL --runtime R`` with the default protocol, a fresh
   store and a cold inductor cache of its own), keeping its chosen batch, energy and GPU-seconds;
2. a ground-truth ladder in a worker subprocess sharing that cache: fixed batches, statically shaped (compiled
   per batch for ``compile-*``), windows of at least 5 s after a 1 s warm-up; powers of two from
   ``--ladder-start`` up to the memory limit (or a batch whose one iteration takes over 4 s), then, in
   descending order, the best batch, the midpoints between it and its neighbours and the sweep's finalists
   again, so that the card's thermal drift (up then down) cancels in the batches that decide the minimum.
   ``--sweep-only`` skips the ladder (GPU-seconds and repeats).

Every reading is appended at once to ``ladders.csv`` / ``sweeps.csv`` under ``--state`` (and copied to ``$OUT``);
a second call with the same state resumes where the first stopped.

``report`` -- the table: per row the sweep's batch and energy, the ladder's best batch and energy, the regret
(the ladder's own reading at the sweep's batch over its minimum, minus one), the sweep's GPU-seconds, and the
paper protocol's cost estimated from the ladder's measured compile times and iteration latencies.

``--replay CURVES.csv`` (no GPU) -- runs the default search on measured ladders (see
:mod:`joulebench.sweep.replay`) and prints one line per curve and ``max regret X.X %``.

Examples::

    PYTHONPATH=src python3 benchmarks/search_regret.py run --state .bench/search --deadline 560
    PYTHONPATH=src python3 benchmarks/search_regret.py report --state data/h100/search-ladders
    python3 benchmarks/search_regret.py --replay data/h100/search-ladders/ladders.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from joulebench.sweep.search import SEARCH_REVISION  # noqa: E402

#: The panel: a mobile CNN, a ResNet, a ConvNeXt, an EfficientNet, ViTs (base, large), a hybrid, an MLP-mixer.
PANEL = (
    "resnet50.a1_in1k",
    "efficientnet_b0.ra_in1k",
    "vit_base_patch16_224.augreg2_in21k_ft_in1k",
    "mobilenetv3_large_100.ra_in1k",
    "convnext_tiny.fb_in1k",
    "vit_large_patch16_224.augreg_in21k_ft_in1k",
    "levit_256.fb_dist_in1k",
    "mixer_b16_224.goog_in21k_ft_in1k",
)
RUNTIMES = ("compile-fp16", "torch-fp32")
#: Whether the card waited on the host in a window (from its trace summary): the card's mean utilisation, a launch's
#: mean host time, the launching thread's CPU share and its pre-emptions (:mod:`joulebench.sweep.host_cpu`).
HOST_FIELDS = ("gpu_util_pct_mean", "host_launch_per_iter_s", "host_thread_busy_frac", "host_preemptions")
LADDER_FIELDS = (
    "model", "runtime", "batch", "status", "pass", "energy_per_image_j", "ci95_rel", "throughput_ips",
    "avg_power_w", "latency_mean_s", "peak_memory_b", "prepare_s", "window_s", "temperature_max_c", "gpu_name",
    "gpu_uuid", *HOST_FIELDS,
)  # fmt: skip
SWEEP_FIELDS = (
    "run_id", "search_rev", "model", "runtime", "repeat", "status", "batch", "energy_per_image_j", "ci95_rel",
    "gpu_seconds", "wall_s", "windows", "scouted", "finals", "gpu_name", "gpu_uuid", "models_in_call", "scouts",
    "flags",
)  # fmt: skip
#: ``scouts`` column: how a compiled runtime's scouting windows were compiled ("" the default, one dynamic-batch
#: program; "static" with ``joulebench measure --static-scouts``, a static program per scouted batch). ``flags``: the
#: ``SWEEP_FLAGS`` environment variable's further ``measure`` flags (e.g. ``--worker-start fresh``), "" for none.
STATIC_SCOUTS = "--static-scouts"
#: Revision of the sweep's search and windows (:data:`joulebench.sweep.search.SEARCH_REVISION`, which says what each
#: one changed), a column of ``sweeps.csv`` so that sweeps of several revisions stay comparable in one file.
SEARCH_REV = SEARCH_REVISION
WINDOW_S = 5.0
MAX_ITER_S = 4.0


# ------------------------------------------------------------------------------------------------ state


def _append(path: Path, fields: tuple[str, ...], row: dict[str, Any]) -> None:
    new = not path.exists()
    if not new and _header(path) != list(fields):  # a file from before a column was added: rewrite it with it
        old = _rows(path)
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            w.writerows(old)
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        if new:
            w.writeheader()
        w.writerow(row)
    out = os.environ.get("OUT")
    if out:
        shutil.copy(path, Path(out) / path.name)


def _header(path: Path) -> list[str]:
    with path.open(newline="") as f:
        return next(csv.reader(f), [])


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------------------------ ladder


def _ladder_worker(model: str, runtime_name: str, out: Path, start: int, extra: list[int]) -> int:  # noqa: C901
    """Measure one ladder in this process (run as a subprocess by ``run``)."""
    from joulebench.meters import get_meter
    from joulebench.models.resolve import resolve_models
    from joulebench.runtimes import get_runtime
    from joulebench.sweep.protocol import WindowPlan, device_facts, measure_batch, to_measurement

    window_s = float(os.environ.get("LADDER_WINDOW_S", WINDOW_S))
    plan = WindowPlan(1.0, 3, window_s, 3, None, window_s, "full")
    meter = get_meter(os.environ.get("LADDER_METER", "nvml"), align=True)
    facts = device_facts(meter)
    meter.measure_idle(1.0)
    spec = resolve_models(model)[0]
    rt = get_runtime(runtime_name)
    rt.load(spec)
    base = {"run_id": "ladder", "model": model, "img_size": spec.img_size, "runtime": runtime_name}
    base["precision"] = rt.precision
    readings: dict[int, list[float]] = {}

    def one(batch: int, label: str) -> dict[str, Any]:
        row: dict[str, Any] = {"model": model, "runtime": runtime_name, "batch": batch, "pass": label}
        row["gpu_name"], row["gpu_uuid"] = facts.get("gpu_name"), facts.get("gpu_uuid")
        try:
            run = measure_batch(rt, meter, batch, plan)
            m = to_measurement(run, base, meter, facts)
            row.update(
                status="ok",
                energy_per_image_j=m.energy_per_image_j,
                ci95_rel=m.ci95_rel,
                throughput_ips=m.throughput_ips,
                avg_power_w=m.avg_power_w,
                latency_mean_s=m.latency_mean_s,
                peak_memory_b=m.peak_memory_b,
                prepare_s=run.prepare_s,
                window_s=run.duration_s,
                temperature_max_c=m.temperature_max_c,
                **{k: m.trace_summary.get(k) for k in HOST_FIELDS},
            )
            readings.setdefault(batch, []).append(float(m.energy_per_image_j))
        except Exception as e:  # out of memory ends the ladder; anything else is recorded the same way
            row.update(status="oom" if rt.is_oom(e) else f"error: {str(e).splitlines()[0][:160]}")
        finally:
            rt.release()
        _append(out, LADDER_FIELDS, row)
        print(json.dumps(row), flush=True)
        return row

    batch = start
    while True:  # up: powers of two to the memory limit
        row = one(batch, "up")
        limit = int(os.environ.get("LADDER_MAX_BATCH", 65536))
        if row["status"] != "ok" or float(row["latency_mean_s"] or 0) * 2 > MAX_ITER_S or batch * 2 > limit:
            break
        batch *= 2
    if not readings:
        return 1
    largest = max(readings)
    best = min(readings, key=lambda b: readings[b][0])
    ups = sorted(readings)
    i = ups.index(best)
    lower, upper = (ups[i - 1] if i > 0 else None), (ups[i + 1] if i + 1 < len(ups) else None)
    down = {best, *extra}
    for nb in (lower, upper):
        if nb is not None:
            down.add((nb + best) // 2)
    for b in sorted((b for b in down if b <= largest), reverse=True):  # down: the region that decides
        one(b, "down")
    return 0


def _ladder(model: str, runtime: str, state: Path, start: int, extra: list[int], env: dict[str, str]) -> None:
    cmd = [sys.executable, __file__, "_ladder", model, runtime, str(state / "ladders.csv"), str(start)]
    cmd += [str(b) for b in extra]
    subprocess.run(cmd, env=env, check=False, timeout=900)


# ------------------------------------------------------------------------------------------------ sweep


def _sweep(
    model: str, runtime: str, state: Path, repeat: int, env: dict[str, str], flags: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Run the sweep as a user would, with a fresh store; append its outcome to sweeps.csv."""
    return _sweeps([model], runtime, state, repeat, env, flags)[0]


def _sweeps(
    models: list[str], runtime: str, state: Path, repeat: int, env: dict[str, str], flags: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """One ``joulebench measure`` of ``models`` with a fresh store (a user measuring several at once); one row each.

    GPU-seconds are each model's own (its worker's wall time); ``wall_s`` is the whole command's, and
    ``models_in_call`` says how many models shared it.
    """
    db = state / f"sweep-{len(_rows(state / 'sweeps.csv'))}.db"
    cmd = [sys.executable, "-m", "joulebench", "measure", *models, "--runtime", runtime, "--db", str(db), "--json"]
    cmd += ["--meter", env.get("LADDER_METER", "nvml"), *flags] + env.get("SWEEP_FLAGS", "").split()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=1800)
    wall = time.monotonic() - t0
    try:
        summaries = {s["model"]: s for s in json.loads(proc.stdout)["summaries"]}
    except (ValueError, KeyError, TypeError):
        summaries = {}
    if summaries:
        _keep_store(db)
    windows = window_rows(db) if summaries else []
    rows = []
    for model in models:
        row: dict[str, Any] = {"model": model, "runtime": runtime, "repeat": repeat, "wall_s": round(wall, 1)}
        row.update(search_rev=SEARCH_REV, models_in_call=len(models), scouts="static" if STATIC_SCOUTS in cmd else "")
        row["flags"] = " ".join(env.get("SWEEP_FLAGS", "").split())
        s = summaries.get(model)
        mine = [w for w in windows if w["model"] == model]
        for w in mine:
            _append(state / "sweep-windows.csv", WINDOW_FIELDS, w)  # ci95_rel is not a column there
        if s is not None:
            row.update(_sweep_outcome(s, mine))
        elif mine:  # the call's deadline stopped it: its windows are kept, its result is not
            row.update(run_id=mine[0]["run_id"], status=f"stopped: no result after {len(mine)} windows")
        else:
            err = proc.stderr.strip().splitlines()[-1][:200] if proc.stderr.strip() else proc.returncode
            row["status"] = f"error: {err}"
        _append(state / "sweeps.csv", SWEEP_FIELDS, row)
        rows.append(row)
    return rows


def _sweep_outcome(s: dict[str, Any], windows: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``sweeps.csv`` fields of one model's summary ``s`` and its windows."""
    scouted, finals, cis = _windows(windows, s["optimal_batch"])
    return {
        "run_id": windows[0]["run_id"] if windows else None,
        "status": s["status"],
        "batch": s["optimal_batch"],
        "energy_per_image_j": s["energy_per_image_j"],
        "ci95_rel": cis,
        "gpu_seconds": s["gpu_seconds"],
        "windows": s["batches_measured"],
        "scouted": " ".join(map(str, scouted)),
        "finals": " ".join(map(str, finals)),
        "gpu_name": s["gpu_name"],
        "gpu_uuid": s.get("gpu_uuid"),
    }


WINDOW_FIELDS = (
    "run_id", "model", "runtime", "batch", "status", "phase", "prepare_s", "warmup_s", "window_s", "energy_per_image_j",
    "latency_mean_s", "peak_memory_b", *HOST_FIELDS,
)  # fmt: skip


def window_rows(db: Path) -> list[dict[str, Any]]:
    """One row per window of the sweeps in ``db``, in the order measured: where their GPU-seconds went.

    Each row has the :data:`WINDOW_FIELDS` and the window's ``ci95_rel``.
    """
    import sqlite3

    con = sqlite3.connect(db)
    q = (
        "select run_id, model, runtime, batch_size, status, trace_summary, duration_s, energy_per_image_j,"
        " latency_mean_s, peak_memory_b, ci95_rel from measurements order by id"
    )
    out = []
    for run_id, model, runtime, batch, status, ts, dur, epi, lat, peak, ci in con.execute(q).fetchall():
        t = json.loads(ts or "{}")
        out.append(
            {
                "run_id": run_id, "model": model, "runtime": runtime, "batch": batch, "status": status,
                "phase": t.get("phase", "full"),
                "prepare_s": t.get("prepare_s"), "warmup_s": t.get("warmup_s"), "window_s": dur,
                "energy_per_image_j": epi, "latency_mean_s": lat, "peak_memory_b": peak, "ci95_rel": ci,
                **{k: t.get(k) for k in HOST_FIELDS},
            }
        )  # fmt: skip
    con.close()
    return out


def _keep_store(db: Path) -> None:
    """Add the sweep's store to ``$OUT/sweep-stores.tar``: the results themselves, not only their outcome."""
    out = os.environ.get("OUT")
    if out and db.exists():
        import tarfile

        with tarfile.open(Path(out) / "sweep-stores.tar", "a") as tar:
            tar.add(db, arcname=db.name)


def _windows(windows: list[dict[str, Any]], chosen: int | None) -> tuple[list[int], list[int], float | None]:
    """The scouted and finalist batches of :func:`window_rows`, and the chosen batch's interval."""
    scouted = [w["batch"] for w in windows if w["phase"] == "scout"]
    finals = [w["batch"] for w in windows if w["phase"] != "scout"]
    ci = next((w["ci95_rel"] for w in windows if w["batch"] == chosen and w["phase"] != "scout"), None)
    return scouted, finals, ci


# ------------------------------------------------------------------------------------------------ run


def _env(state: Path, cache_name: str) -> tuple[dict[str, str], Path]:
    """The environment of a benchmark subprocess (this checkout's ``src`` first) and its inductor cache folder."""
    cache = state / "inductor" / cache_name
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env, cache


def _run_together(a: argparse.Namespace, state: Path) -> int:
    """``run --together``: each runtime's models in one ``joulebench measure`` (sweeps only), as a user measuring a
    zoo does; the models not yet swept in ``state``, with one cold inductor cache for the call."""
    t_end = time.monotonic() + a.deadline
    done = {(r["model"], r["runtime"]) for r in _rows(state / "sweeps.csv") if r["repeat"] == "0"}
    for runtime in a.runtime:
        models = [m for m in a.models if (m, runtime) not in done]
        left = t_end - time.monotonic()
        if not models or left < 60:
            continue
        env, cache = _env(state, f"together-{runtime}")
        shutil.rmtree(cache, ignore_errors=True)
        # the measure call's own deadline: models that would not fit are not started, a running one is stopped
        for row in _sweeps(models, runtime, state, 0, env, ("--deadline", f"{left:.0f}s")):
            print(json.dumps(row), flush=True)
    return 0


def cmd_run(a: argparse.Namespace) -> int:
    state = Path(a.state)
    state.mkdir(parents=True, exist_ok=True)
    if a.together:
        return _run_together(a, state)
    t_end = time.monotonic() + a.deadline
    variant = {
        "scouts": "static" if a.static_scouts else "",
        "flags": " ".join(os.environ.get("SWEEP_FLAGS", "").split()),
    }
    flags = (STATIC_SCOUTS,) if a.static_scouts else ()
    done_sweeps = {(r["model"], _label(r), int(r["repeat"])) for r in _rows(state / "sweeps.csv")}
    done_ladders = {(r["model"], r["runtime"]) for r in _rows(state / "ladders.csv") if r["pass"] == "down"}
    jobs = [(m, r, 0) for m in a.models for r in a.runtime]
    jobs += [(a.models[0], a.runtime[-1], k) for k in range(1, a.repeats)]
    cost = {"torch-fp32": 120.0, "compile-fp16": 300.0}
    for model, runtime, repeat in jobs:
        label = _label({"runtime": runtime, **variant})
        swept = (model, label, repeat) in done_sweeps
        need = cost.get(runtime, 200.0) * (0.3 if repeat or a.sweep_only else 0.7 if a.ladder_only else 1.0)
        if time.monotonic() + need > t_end:
            print(f"deadline: {model} {runtime} #{repeat} left for the next call", flush=True)
            continue
        if a.ladder_only and (repeat or (model, runtime) in done_ladders):
            continue
        if swept and (repeat or (model, runtime) in done_ladders):
            continue
        env, cache = _env(state, f"{model}-{label.replace('/', '-')}-{repeat}")
        sw = None
        if not swept and not a.ladder_only:
            shutil.rmtree(cache, ignore_errors=True)  # cold: the sweep compiles from nothing
            sw = _sweep(model, runtime, state, repeat, env, flags)
            print(json.dumps(sw), flush=True)
        if repeat == 0 and (model, runtime) not in done_ladders and not a.sweep_only:
            extra = [int(x) for x in (sw or {}).get("finals", "").split()] if sw else []
            start = a.ladder_start_compile if runtime.startswith("compile") else a.ladder_start
            _ladder(model, runtime, state, start, extra, env)
    return 0


# ------------------------------------------------------------------------------------------------ report


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


def _rev(s: dict[str, str]) -> int:
    """A sweep's search revision (:data:`SEARCH_REV`); files written before the column existed hold revision 1."""
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
        sweeps = _superseded_dropped(_rows(state / "sweeps.csv"))
        return cls(_rows(state / "ladders.csv"), sweeps, _rows(state / "sweep-windows.csv"))

    @property
    def newest_rev(self) -> int:
        """The newest search revision among the sweeps (:data:`SEARCH_REV` when there are none)."""
        return max((_rev(s) for s in self.sweeps), default=SEARCH_REV)


def _superseded_dropped(sweeps: list[dict[str, str]]) -> list[dict[str, str]]:
    """``sweeps`` without the unfinished rows of a (model, runtime, repeat, revision) that has a later row: a call
    that left a model for the next one records it unfinished, and the next call's row replaces it."""
    last: dict[tuple[str, str, str, int], int] = {}
    for i, s in enumerate(sweeps):
        last[(s["model"], _label(s), s["repeat"], _rev(s))] = i
    return [
        s
        for i, s in enumerate(sweeps)
        if s["status"] == "ok" or last[(s["model"], _label(s), s["repeat"], _rev(s))] == i
    ]


def _label(s: dict[str, str]) -> str:
    """A sweep's runtime as the report shows it, with how it differs from the default sweep: ``compile-fp16/static``
    with static scouts, ``compile-fp16/worker-start-fresh`` with ``SWEEP_FLAGS="--worker-start fresh"``."""
    flags = "-".join(f.lstrip("-") for f in (s.get("flags") or "").split())
    return s["runtime"] + ("/static" if s.get("scouts") == "static" else "") + (f"/{flags}" if flags else "")


def _same_board(rows: list[dict[str, str]], s: dict[str, str]) -> list[dict[str, str]]:
    """The ``rows`` measured on the board of sweep ``s``; rows and sweeps from before the board was recorded go
    together."""
    return [r for r in rows if (r.get("gpu_uuid") or "") == (s.get("gpu_uuid") or "")]


def report_rows(bench: BenchState, rev: int) -> list[dict[str, Any]]:
    """One row per first sweep (repeat 0) of search revision ``rev``."""
    out = []
    for s in bench.sweeps:
        if s["repeat"] != "0" or _rev(s) != rev:
            continue
        lad = [r for r in bench.ladders if r["model"] == s["model"] and r["runtime"] == s["runtime"]]
        # a ladder of the sweep's own board, where there is one: boards of one model differ by a few percent
        # (sweeps and ladders from before the board was recorded go together)
        lad = _same_board(lad, s) or lad
        means: dict[int, list[float]] = {}
        for r in lad:
            if r["status"] == "ok":
                means.setdefault(int(r["batch"]), []).append(float(r["energy_per_image_j"]))
        mean = {b: sum(v) / len(v) for b, v in means.items()}
        row: dict[str, Any] = {"model": s["model"], "runtime": _label(s), "sweep_batch": s["batch"]}
        row["sweep_mj"] = float(s["energy_per_image_j"]) * 1e3 if s["energy_per_image_j"] else math.nan
        row["gpu_s"] = float(s["gpu_seconds"]) if s["gpu_seconds"] else math.nan
        overhead_s = row["gpu_s"] - _sweep_windows_s(s, bench.windows)
        if mean:
            best = min(mean, key=mean.get)
            row.update(best_batch=best, best_mj=mean[best] * 1e3)
            b = int(s["batch"]) if s["batch"] else None
            row["regret"] = mean[b] / mean[best] - 1 if b in mean else math.nan
            row["paper_s"] = paper_cost_s(lad, overhead_s=overhead_s)
        elif other := [r for r in bench.cost_ladders if r["model"] == s["model"] and r["runtime"] == s["runtime"]]:
            row["paper_s"] = paper_cost_s(other, overhead_s=overhead_s)  # the paper's cost only: regret needs own board
        out.append(row)
    return out


def _windows_s(windows: list[dict[str, str]]) -> float:
    """Seconds spent preparing, warming up and measuring in ``windows``."""
    return sum(float(w[k] or 0) for w in windows for k in ("prepare_s", "warmup_s", "window_s"))


def _own_windows(s: dict[str, str], windows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows of ``windows`` that sweep ``s`` measured (one measure call of several models is one run: its
    windows are told apart by model)."""
    return [w for w in windows if s.get("run_id") and w.get("run_id") == s["run_id"] and w["model"] == s["model"]]


def _sweep_windows_s(s: dict[str, str], windows: list[dict[str, str]]) -> float:
    """The part of a sweep's GPU-seconds spent in its windows (preparing, warming up, measuring).

    The rest is start-up (process, imports, idle baseline, model build) and exit, which the paper's protocol pays
    too. From ``sweep-windows.csv`` where it has the sweep's run; else 1 s per scout and 5 s per final (rough).
    """
    mine = _own_windows(s, windows)
    if mine:
        return _windows_s(mine)
    return len(s["scouted"].split()) * 1.0 + len(s["finals"].split()) * 5.0


def _print_windows(windows: list[dict[str, str]]) -> None:
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


def _print_scout_against_full(sweeps: list[dict[str, str]], windows: list[dict[str, str]]) -> None:
    """Per sweep, each batch measured both as a scout and in full: the full window's reading against the scout's.

    Scouts only rank batches, so a difference common to all batches does no harm; one that varies with the batch
    (a compiled runtime's dynamic-batch scouting program against the static program of a final) can reorder them.
    """
    for s in sweeps:
        mine = [w for w in _own_windows(s, windows) if w["status"] == "ok" and w["energy_per_image_j"]]
        scout = {w["batch"]: float(w["energy_per_image_j"]) for w in mine if w["phase"] == "scout"}
        pairs = [(w["batch"], float(w["energy_per_image_j"])) for w in mine if w["phase"] != "scout"]
        both = [f"{b} {100 * (e / scout[b] - 1):+.1f} %" for b, e in pairs if b in scout]
        if both:
            print(f"full vs scout {s['model']} {_label(s)} #{s['repeat']}: {', '.join(both)}")


def _print_full_against_ladder(
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
        own = _same_board(lad_rows, s) if s.get("gpu_uuid") else []  # a sweep without its board has no own ladder
        lad: dict[str, list[dict[str, str]]] = {}
        for r in own:
            if r["energy_per_image_j"] and r["latency_mean_s"]:
                lad.setdefault(r["batch"], []).append(r)
        both = []
        for w in _own_windows(s, windows):
            if w["phase"] == "scout" or w["status"] != "ok" or w["batch"] not in lad or not w["latency_mean_s"]:
                continue
            e, t = (_mean(lad[w["batch"]], k) for k in ("energy_per_image_j", "latency_mean_s"))
            gap, ratio = float(w["energy_per_image_j"]) / e - 1, float(w["latency_mean_s"]) / t
            host = _host_against_ladder(w, lad[w["batch"]])
            both.append(f"{w['batch']} {100 * gap:+.1f} % (time x{ratio:.2f}{host})")
        if both:
            print(f"full vs ladder {s['model']} {_label(s)} #{s['repeat']}: {', '.join(both)}")


def _mean(rows: list[dict[str, str]], key: str) -> float | None:
    """The mean of ``key`` over the rows that recorded it, None where none did."""
    values = [float(r[key]) for r in rows if r.get(key)]
    return statistics.fmean(values) if values else None


def _host_against_ladder(window: dict[str, str], ladder: list[dict[str, str]]) -> str:
    """``, GPU util 49 % vs 93 %, launch 4.10 vs 2.05 ms``: the parts the window (and the ladder) recorded."""
    out = ""
    for key, name, scale, fmt, unit in (
        ("gpu_util_pct_mean", "GPU util", 1.0, ".0f", " %"),
        ("host_launch_per_iter_s", "launch", 1e3, ".2f", " ms"),
    ):
        mine, theirs = window.get(key), _mean(ladder, key)
        if mine:
            out += f", {name} {float(mine) * scale:{fmt}}"
            out += f" vs {theirs * scale:{fmt}}{unit}" if theirs is not None else unit
    return out


def _print_time_split(sweeps: list[dict[str, str]], windows: list[dict[str, str]]) -> None:
    """Each sweep's GPU-seconds split into start-up (outside its windows: the worker's start, idle baseline, model
    build, exit), scouts and finals (preparing, warming up, measuring), and their ranges per runtime; sweeps without
    their own windows in ``sweep-windows.csv`` are left out."""
    by: dict[str, list[tuple[float, float, float]]] = {}
    for s in sweeps:
        mine = _own_windows(s, windows)
        if not mine or not s["gpu_seconds"]:
            continue
        scouts = _windows_s([w for w in mine if w["phase"] == "scout"])
        finals = _windows_s([w for w in mine if w["phase"] != "scout"])
        split = (float(s["gpu_seconds"]) - scouts - finals, scouts, finals)
        by.setdefault(_label(s), []).append(split)
        print(
            f"time {s['model']} {_label(s)} #{s['repeat']}: start-up {split[0]:.1f} s, scouts {scouts:.1f} s,"
            f" finals {finals:.1f} s"
        )
    for runtime, v in by.items():
        lo, hi = [min(x) for x in zip(*v, strict=True)], [max(x) for x in zip(*v, strict=True)]
        print(
            f"time {runtime}: start-up {lo[0]:.1f}-{hi[0]:.1f} s, scouts {lo[1]:.1f}-{hi[1]:.1f} s,"
            f" finals {lo[2]:.1f}-{hi[2]:.1f} s over {len(v)} sweeps"
        )


def _print_pass_spread(ladder: list[dict[str, str]]) -> None:
    """The largest difference between a batch's upward and downward readings on one board: the ladder's own
    uncertainty."""
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
    for old in sorted({_rev(s) for s in bench.sweeps} - {rev}):
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
        if pairs:
            print(
                f"revision {old} -> {rev}: median GPU-s {statistics.median([w['gpu_s'] for w, _ in pairs]):.0f} ->"
                f" {statistics.median([n['gpu_s'] for _, n in pairs]):.0f} on the same {len(pairs)} rows"
            )


def cmd_report(a: argparse.Namespace) -> int:
    bench = BenchState.read(Path(a.state))
    if a.cost_ladders:
        bench = bench._replace(cost_ladders=_rows(Path(a.cost_ladders) / "ladders.csv"))
    rev = a.rev if a.rev is not None else bench.newest_rev
    rows = report_rows(bench, rev)
    print(f"search revision {rev}")
    _print_table(rows)
    _print_earlier(bench, rev, rows)
    swept = [s for s in bench.sweeps if _rev(s) == rev]
    by: dict[tuple[str, str], list[float]] = {}
    for s in swept:
        if s["energy_per_image_j"]:
            by.setdefault((s["model"], _label(s)), []).append(float(s["energy_per_image_j"]))
    for (m, rt), v in by.items():
        if len(v) > 1:
            print(f"repeats {m} {rt}: {len(v)} runs, spread {100 * (max(v) / min(v) - 1):.2f} %")
            print(f"repeats {m} {rt} mJ/img: {' '.join(f'{1e3 * x:.2f}' for x in v)}")
    _print_pass_spread(bench.ladders)
    ids = {s.get("run_id") for s in swept}
    _print_windows([w for w in bench.windows if not w.get("run_id") or w["run_id"] in ids])
    _print_time_split(swept, bench.windows)
    _print_scout_against_full(swept, bench.windows)
    _print_full_against_ladder(swept, bench.windows, bench.ladders)
    regrets = [r["regret"] for r in rows if not math.isnan(r.get("regret", math.nan))]
    if regrets:
        print(f"max regret {100 * max(regrets):.1f} %")
    return 0


def _scout_cis(db: Path) -> list[float]:
    return [
        float(w["ci95_rel"])
        for w in window_rows(db)
        if w["phase"] == "scout" and w["status"] == "ok" and w["ci95_rel"] is not None
    ]


def cmd_noise(stores: list[Path]) -> int:
    """The scouting windows' 95 % intervals in these stores, and the standard deviation that their median implies."""
    cis = sorted(c for db in stores for c in _scout_cis(db))
    if not cis:
        print("no scouting windows with a confidence interval in these stores")
        return 1

    def q(p: float) -> float:
        return cis[round(p * (len(cis) - 1))]

    print(f"scouting windows: {len(cis)} in {len(stores)} stores")
    print(f"95 % interval (relative): median {100 * q(0.5):.2f} %, p75 {100 * q(0.75):.2f} %, p90 {100 * q(0.9):.2f} %")
    print(
        f"standard deviation from the median interval: {100 * q(0.5) / 1.96:.2f} %  (--scout-noise {q(0.5) / 1.96:.4f})"
    )
    return 0


# ------------------------------------------------------------------------------------------------ replay


def cmd_replay(
    path: str, trials: int, scout_rel: float, full_rel: float, search: str | None = None, **scan: Any
) -> int:
    """Replay a search on measured ladders; ``scan`` overrides scan options (``scan_max_iter_s``, ...)."""
    from joulebench.sweep.replay import Noise, read_curves, replay_table
    from joulebench.sweep.tasks import SweepOptions

    scan = {k: v for k, v in scan.items() if v is not None}
    opts = SweepOptions(search=search, **scan) if search else SweepOptions(**scan)
    rows = replay_table(read_curves(path), opts, noise=Noise(scout_rel, full_rel), trials=trials)
    print(f"{'model':44} {'runtime':13} {'batch':>6} {'mJ':>8} {'min b':>6} {'min mJ':>8} {'regret':>7} {'win s':>6}")
    for r in rows:
        win = math.nan if r["window_s"] is None else r["window_s"]
        name = r["model"] + (f"@{r['board'][4:12]}" if r.get("board") else "")  # GPU-xxxxxxxx: each board's ladder
        print(
            f"{name:44} {r['runtime']:13} {r['batch']!s:>6} {1e3 * (r['energy_per_image_j'] or math.nan):8.2f}"
            f" {r['min_batch']:>6} {1e3 * r['min_energy_per_image_j']:8.2f} {100 * (r['regret'] or 0):6.2f}%"
            f" {win:6.1f}"
        )
    costs = [r["window_s"] for r in rows if r["window_s"] is not None]
    if costs:  # warm-ups and windows at their minimum length: full windows that need more to reach ±1 % take longer
        print(f"window time: {sum(costs) / len(costs):.1f} s per curve on average (warm-ups and minimum windows)")
    worst = max((r["regret"] for r in rows if r["regret"] is not None), default=math.nan)
    print(f"max regret {100 * worst:.1f} %")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_ladder":
        model, runtime, out, start, *extra = argv[1:]
        return _ladder_worker(model, runtime, Path(out), int(start), [int(x) for x in extra])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replay", metavar="CURVES.csv", help="replay the default search on measured ladders (no GPU)")
    p.add_argument("--trials", type=int, default=20, help="replay: noise seeds per curve (the worst one is shown)")
    p.add_argument("--scout-noise", type=float, default=0.02, help="replay: relative SD of a scouting window")
    p.add_argument("--full-noise", type=float, default=0.005, help="replay: relative SD of a full window")
    p.add_argument("--search", default=None, help="replay: another registered search (plateau, paper)")
    p.add_argument("--max-iter", type=float, default=None, help="replay: the scan's iteration limit (s)")
    p.add_argument("--finalists", type=int, default=None, help="replay: the scan's finalists")
    p.add_argument("--margin", type=float, default=None, help="replay: the scan's finalist margin (0.04: 4 %%)")
    sub = p.add_subparsers(dest="cmd")
    r = sub.add_parser("run", help="measure sweeps and ladders on the GPU")
    r.add_argument("models", nargs="*", default=list(PANEL))
    r.add_argument("--runtime", action="append", default=None)
    r.add_argument("--state", default=".bench/search")
    r.add_argument("--deadline", type=float, default=560.0, help="seconds; no job starts that would not fit")
    r.add_argument("--repeats", type=int, default=3, help="sweeps of the first model on the last runtime")
    r.add_argument("--ladder-start", type=int, default=32)
    r.add_argument("--ladder-start-compile", type=int, default=32)
    r.add_argument("--sweep-only", action="store_true", help="no ladders: the sweeps' batches and GPU-seconds")
    r.add_argument("--ladder-only", action="store_true", help="no sweeps: ground truth first, sweeps in a later call")
    r.add_argument("--together", action="store_true", help="sweeps only, all models of a runtime in one measure call")
    r.add_argument("--static-scouts", action="store_true", help="sweeps with joulebench measure --static-scouts")
    nz = sub.add_parser("noise", help="the scouting windows' noise in sweep stores (for --scout-noise)")
    nz.add_argument("stores", nargs="+", help="joulebench stores (SQLite) of sweeps")
    wn = sub.add_parser("windows", help="write each window of the sweeps in stores to sweep-windows.csv")
    wn.add_argument("stores", nargs="+")
    wn.add_argument("--out", required=True)
    rep = sub.add_parser("report", help="print the regret and cost table")
    rep.add_argument("--state", default=".bench/search")
    rep.add_argument("--rev", type=int, default=None, help="the search revision to tabulate (default: the newest)")
    rep.add_argument(
        "--cost-ladders", default=None, help="a state folder whose ladders estimate the paper's cost where DIR has none"
    )
    a = p.parse_args(argv)
    if a.replay:
        return cmd_replay(
            a.replay, a.trials, a.scout_noise, a.full_noise, a.search,
            scan_max_iter_s=a.max_iter, scan_finalists=a.finalists, scan_margin=a.margin,
        )  # fmt: skip
    if a.cmd == "noise":
        return cmd_noise([Path(x) for x in a.stores])
    if a.cmd == "windows":
        for db in a.stores:
            for row in window_rows(Path(db)):
                _append(Path(a.out), WINDOW_FIELDS, row)
        return 0
    if a.cmd == "run":
        a.runtime = a.runtime or list(RUNTIMES)
        return cmd_run(a)
    if a.cmd == "report":
        return cmd_report(a)
    p.print_help()
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
