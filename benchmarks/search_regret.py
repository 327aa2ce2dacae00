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
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from joulebench.runtimes.ahead import JOBS_ENV  # noqa: E402
from joulebench.sweep.regret import (  # noqa: E402
    HOST_FIELDS,
    final_ci95_rel,
    print_report,
    read_rows,
    subprocess_env,
    sweep_label,
    window_rows,
    write_rows,
)
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
#: ``SWEEP_FLAGS`` environment variable's further ``measure`` flags (e.g. ``--worker-start fresh``), "" for none, and
#: ``compile-ahead`` where ``JOULEBENCH_COMPILE_AHEAD`` had child processes compile the programs ahead.
STATIC_SCOUTS = "--static-scouts"


def sweep_flags(env: Mapping[str, str]) -> str:
    """The ``flags`` column of a sweep run with environment ``env``."""
    ahead = env.get(JOBS_ENV, "").strip()
    return " ".join(env.get("SWEEP_FLAGS", "").split() + (["compile-ahead"] if ahead.isdigit() and int(ahead) else []))


#: Revision of the sweep's search and windows (:data:`joulebench.sweep.search.SEARCH_REVISION`, which says what each
#: one changed), a column of ``sweeps.csv`` so that sweeps of several revisions stay comparable in one file.
SEARCH_REV = SEARCH_REVISION
WINDOW_S = 5.0
MAX_ITER_S = 4.0


# ------------------------------------------------------------------------------------------------ state


def _append(path: Path, fields: tuple[str, ...], row: dict[str, Any]) -> None:
    new = not path.exists()
    if not new and _header(path) != list(fields):  # a file from before a column was added: rewrite it with it
        write_rows(path, fields, read_rows(path))
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        if new:
            w.writeheader()
        w.writerow(row)
    out = os.environ.get("OUT")
    if out and Path(out).resolve() != path.parent.resolve():  # a copy for the device's $OUT, unless it is there
        shutil.copy(path, Path(out) / path.name)


def _header(path: Path) -> list[str]:
    with path.open(newline="") as f:
        return next(csv.reader(f), [])


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
    db = state / f"sweep-{len(read_rows(state / 'sweeps.csv'))}.db"
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
        row["flags"] = sweep_flags(env)
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
    return scouted, finals, final_ci95_rel(windows, chosen)


# ------------------------------------------------------------------------------------------------ run


def _env(state: Path, cache_name: str) -> tuple[dict[str, str], Path]:
    """The environment of a benchmark subprocess (this checkout's ``src`` first) and its inductor cache folder."""
    cache = state / "inductor" / cache_name
    return subprocess_env(cache), cache


def _run_together(a: argparse.Namespace, state: Path) -> int:
    """``run --together``: each runtime's models in one ``joulebench measure`` (sweeps only), as a user measuring a
    zoo does; the models not yet swept in ``state``, with one cold inductor cache for the call."""
    t_end = time.monotonic() + a.deadline
    done = {(r["model"], r["runtime"]) for r in read_rows(state / "sweeps.csv") if r["repeat"] == "0"}
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
        "flags": sweep_flags(os.environ),
    }
    flags = (STATIC_SCOUTS,) if a.static_scouts else ()
    done_sweeps = {(r["model"], sweep_label(r), int(r["repeat"])) for r in read_rows(state / "sweeps.csv")}
    done_ladders = {(r["model"], r["runtime"]) for r in read_rows(state / "ladders.csv") if r["pass"] == "down"}
    jobs = [(m, r, 0) for m in a.models for r in a.runtime]
    jobs += [(a.models[0], a.runtime[-1], k) for k in range(1, a.repeats)]
    cost = {"torch-fp32": 120.0, "compile-fp16": 300.0}
    for model, runtime, repeat in jobs:
        label = sweep_label({"runtime": runtime, **variant})
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


def cmd_report(a: argparse.Namespace) -> int:
    print_report(Path(a.state), a.rev, Path(a.cost_ladders) if a.cost_ladders else None)
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
    p.add_argument("--finalists", type=int, default=None, help="replay: the most finalists of the scan (3)")
    p.add_argument("--margin", type=float, default=None, help="replay: the scan's finalist margin (0.08: 8 %%)")
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
    from joulebench.errors import JoulebenchError

    try:
        raise SystemExit(main())
    except JoulebenchError as err:  # a wrong path or option: the message says the fix, a traceback would bury it
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
