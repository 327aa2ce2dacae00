"""Time ``joulebench measure MODEL --runtime cpu-fp32 --meter sim --quick``, the whole command, in fresh processes.

Usage: ``python benchmarks/quick_measure.py [--repeat 5] [--model test_vit] [--runtime cpu-fp32]``.

Each run measures into a new results file. Two cases are timed: ``first`` (a new, empty cache folder each run, as a
new user's first try: the driver finds the model name in the package's table of timm names when the installed timm
is the release it was read from, else it imports timm to read it) and ``again`` (the cache of an earlier, untimed
run). Beside the wall time of each command, the stored results say where the time went:
``worker s`` is the worker's own time (the task's GPU-seconds: process start to result), ``driver s`` the rest of
the command (wall less worker), ``windows s`` the measurement windows, ``warm-up s`` the warm-ups before them,
``other s`` the rest of the worker's time (starting, the idle baseline, importing torch and timm, building the model,
preparing each batch) and ``batches`` how many windows were measured: the quick search stops scanning at an iteration
over 0.1 s, so a busy machine measures fewer batches. Prints a table (median and minimum of the repeats) and the load
average before and after each case: other work on a shared machine inflates the numbers. JSON under ``$OUT``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))  # this checkout's joulebench, for the store reader below and for the commands

#: The columns of a run, and of the table (the median and the minimum of each).
COLUMNS = ("wall_s", "driver_s", "worker_s", "windows_s", "warmup_s", "other_s", "batches")


def measure_once(model: str, runtime: str, cache: Path) -> dict[str, Any]:
    """Run the command once into a new results file; its wall time and, from the store, where the time went."""
    from joulebench.store.db import Store

    with tempfile.TemporaryDirectory(prefix="quick-measure-") as tmp:
        db = Path(tmp) / "r.db"
        cmd = [sys.executable, "-m", "joulebench", "measure", model, "--runtime", runtime, "--meter", "sim"]
        cmd += ["--quick", "--db", str(db), "--json"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
        env["JOULEBENCH_CACHE"] = str(cache)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        with Store(db) as store:
            (summary,) = store.summaries()
            rows = store.measurements()
    return timings(wall, float(summary["gpu_seconds"]), rows)


def timings(wall: float, worker: float, rows: list[dict[str, Any]]) -> dict[str, float]:
    """One run's columns from its wall time, its worker's time and its stored batch rows."""
    windows = window_times(rows)
    other = worker - windows["windows_s"] - windows["warmup_s"]
    return {"wall_s": wall, "driver_s": wall - worker, "worker_s": worker, **windows, "other_s": other}


def window_times(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Total window and warm-up seconds, and the number of windows, of a task's stored batch rows."""
    summaries = [r["trace_summary"] for r in rows]
    summaries = [json.loads(t) if isinstance(t, str) else (t or {}) for t in summaries]
    return {
        "windows_s": sum(float(r["duration_s"] or 0.0) for r in rows),
        "warmup_s": sum(float(t.get("warmup_s") or 0.0) for t in summaries),
        "batches": float(len(rows)),
    }


def table(cases: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The printed table: one line per case, median and minimum of every column."""
    head = f"{'case':<5} {'runs':>4}" + "".join(f" {c.replace('_s', ' s'):>10} med {'min':>6}" for c in COLUMNS)
    lines = [head]
    for case, runs in cases.items():
        cells = "".join(
            f" {statistics.median(r[c] for r in runs):>14.2f} {min(r[c] for r in runs):>6.2f}" for c in COLUMNS
        )
        lines.append(f"{case:<5} {len(runs):>4}{cells}")
    return lines


def _load(avg: tuple[float, ...]) -> str:
    return " ".join(f"{x:.2f}" for x in avg)


def _names() -> str:
    from joulebench.models.name_cache import SHIPPED_NAMES, shipped_names, timm_installation

    release, _ = shipped_names(SHIPPED_NAMES)
    installed = timm_installation()
    used = installed is not None and installed[0] == release
    return f"the package's timm names (timm {release}) {'are' if used else 'are not'} used"


def _versions() -> str:
    found = []
    for pkg in ("torch", "timm"):
        try:
            found.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            found.append(f"{pkg} missing")
    return ", ".join(found)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs of each case")
    ap.add_argument("--model", default="test_vit")
    ap.add_argument("--runtime", default="cpu-fp32")
    args = ap.parse_args()
    cases: dict[str, list[dict[str, Any]]] = {"first": [], "again": []}
    loads: dict[str, list[tuple[float, ...]]] = {}
    kept = Path(tempfile.mkdtemp(prefix="quick-measure-cache-"))
    try:
        measure_once(args.model, args.runtime, kept)  # fills the cache the "again" runs share, untimed
        for case in cases:
            loads[case] = [os.getloadavg()]
            for _ in range(args.repeat):
                if case == "again":
                    cases[case].append(measure_once(args.model, args.runtime, kept))
                    continue
                with tempfile.TemporaryDirectory(prefix="quick-measure-first-") as empty:
                    cases[case].append(measure_once(args.model, args.runtime, Path(empty)))
            loads[case].append(os.getloadavg())
    finally:
        shutil.rmtree(kept, ignore_errors=True)
    print(f"joulebench measure {args.model} --runtime {args.runtime} --meter sim --quick  (seconds)")
    print("\n".join(table(cases)))
    for case, (before, after) in loads.items():
        print(f"load average {case}: before {_load(before)}; after {_load(after)}")
    cpu = platform.processor() or platform.machine()
    print(f"{os.cpu_count()} cores ({cpu}), python {platform.python_version()}, {_versions()}; {_names()}")
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "quick_measure.json").write_text(json.dumps({"cases": cases, "load": loads}, indent=1))


if __name__ == "__main__":
    main()
