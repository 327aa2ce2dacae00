"""What a warm inductor cache saves a compiled sweep, and whether the sweep's answer stays the same.

For each model, ``joulebench measure MODEL --runtime R`` runs ``--runs`` times, each with a fresh store and all
with one inductor cache folder (``TORCHINDUCTOR_CACHE_DIR``), emptied before the first run: run 1 compiles from
nothing (cold), the later runs find inductor's FX-graph, autograd and kernel caches filled by it (warm), as a user's
second measurement of the same models on the same machine does. Per run it prints the model's GPU-seconds (its
worker's wall time), the seconds its windows spent preparing (compiling, for a compiled runtime), the batch the
search chose and its energy per image. A warm run that chooses another batch, or reads another energy beyond its
interval, says the cache changed the measured program, not only its cost.

Every run is appended to ``--csv`` as it finishes (default ``$OUT/compile-cache.csv`` when ``$OUT`` is set);
``--report CSV`` prints the table of such a file again, without a GPU.

Example (GPU)::

    PYTHONPATH=src python3 benchmarks/compile_cache.py mobilenetv3_large_100.ra_in1k --runtime compile-fp16 --runs 2
    python3 benchmarks/compile_cache.py --report data/h100/compile-cache/compile-cache.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FIELDS = (
    "model", "runtime", "run", "cache", "status", "batch", "energy_per_image_j", "ci95_rel", "gpu_seconds",
    "prepare_s", "windows", "wall_s", "gpu_name",
)  # fmt: skip


def measure_once(model: str, runtime: str, db: Path, cache: Path, extra: list[str]) -> dict[str, Any]:
    """One ``joulebench measure`` of ``model`` into a fresh store ``db`` with inductor's cache at ``cache``."""
    from joulebench.sweep.regret import final_ci95_rel, subprocess_env, window_rows  # lazily: --help needs none

    env = subprocess_env(cache)
    cmd = [sys.executable, "-m", "joulebench", "measure", model, "--runtime", runtime, "--db", str(db), "--json"]
    t0 = time.monotonic()
    proc = subprocess.run([*cmd, *extra], env=env, capture_output=True, text=True, check=False, timeout=1800)
    wall = time.monotonic() - t0
    row: dict[str, Any] = {"model": model, "runtime": runtime, "wall_s": round(wall, 1)}
    try:
        summary = json.loads(proc.stdout)["summaries"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        tail = proc.stderr.strip().splitlines()[-1][:200] if proc.stderr.strip() else f"exit {proc.returncode}"
        return {**row, "status": f"error: {tail}"}
    windows = window_rows(db)
    row.update(
        status=summary["status"],
        batch=summary["optimal_batch"],
        energy_per_image_j=summary["energy_per_image_j"],
        ci95_rel=final_ci95_rel(windows, summary["optimal_batch"]),
        gpu_seconds=summary["gpu_seconds"],
        prepare_s=round(sum(w["prepare_s"] or 0.0 for w in windows), 1),
        windows=len(windows),
        gpu_name=summary.get("gpu_name"),
    )
    return row


def run_model(model: str, runtime: str, runs: int, work: Path, extra: list[str]) -> Iterator[dict[str, Any]]:
    """``runs`` measurements of ``model`` sharing one inductor cache, the first one cold; each row as it ends."""
    cache = work / "inductor" / f"{model}-{runtime}"
    shutil.rmtree(cache, ignore_errors=True)
    for k in range(1, runs + 1):
        db = work / f"{model}-{runtime}-{k}.db"
        db.unlink(missing_ok=True)
        row = measure_once(model, runtime, db, cache, extra)
        yield {**row, "run": k, "cache": "cold" if k == 1 else "warm"}


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None or v == "" else format(v, spec)


def print_table(rows: list[dict[str, Any]]) -> None:
    """One line per run, and per model the warm runs' GPU-seconds and energy against the cold run's."""
    print(f"{'model':44} {'runtime':13} {'run':>3} {'cache':5} {'batch':>6} {'mJ/img':>9} {'±95%':>6} "
          f"{'GPU-s':>6} {'prep s':>6}  status")  # fmt: skip
    for r in rows:
        mj = None if r.get("energy_per_image_j") is None else 1e3 * r["energy_per_image_j"]
        ci = None if r.get("ci95_rel") is None else 100 * r["ci95_rel"]
        print(
            f"{r['model']:44} {r['runtime']:13} {r['run']:>3} {r['cache']:5} {_fmt(r.get('batch'), '>6')} "
            f"{_fmt(mj, '>9.2f')} {_fmt(ci, '>5.1f')}% {_fmt(r.get('gpu_seconds'), '>6.0f')} "
            f"{_fmt(r.get('prepare_s'), '>6.1f')}  {r['status']}"
        )
    for (model, runtime), group in _by_task(rows).items():
        cold, warm = group[0], [r for r in group[1:] if r.get("gpu_seconds")]
        if not cold.get("gpu_seconds") or not warm:
            continue
        ratio = [w["gpu_seconds"] / cold["gpu_seconds"] for w in warm]
        same = all(w.get("batch") == cold.get("batch") for w in warm)
        gap = [100 * (w["energy_per_image_j"] / cold["energy_per_image_j"] - 1) for w in warm]
        print(
            f"warm / cold {model} {runtime}: GPU-s x{min(ratio):.2f}-{max(ratio):.2f}, "
            f"{'same batch' if same else 'another batch'}, energy {min(gap):+.1f} to {max(gap):+.1f} %"
        )


def _by_task(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["model"], r["runtime"]), []).append(r)
    return out


def append_csv(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` to ``path`` (header first when the file is new)."""
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(row)


#: ``FIELDS`` that hold numbers, and their types, for reading a CSV back.
_NUMBERS = {"run": int, "batch": int, "energy_per_image_j": float, "ci95_rel": float, "gpu_seconds": float,
            "prepare_s": float, "windows": int, "wall_s": float}  # fmt: skip


def read_csv(path: Path) -> list[dict[str, Any]]:
    """The rows :func:`append_csv` wrote, numbers as numbers and empty cells as None."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{k: (_NUMBERS[k](v) if v and k in _NUMBERS else v or None) for k, v in r.items()} for r in rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*")
    p.add_argument("--report", default=None, metavar="CSV", help="print the table of a stored CSV (no GPU)")
    p.add_argument("--runtime", default="compile-fp16")
    p.add_argument("--runs", type=int, default=2, help="measurements per model; the first is cold")
    p.add_argument("--meter", default="nvml")
    p.add_argument("--work", default=None, help="folder for the stores and caches (default: a temporary one)")
    p.add_argument("--csv", default=None, help="append each run here (default: $OUT/compile-cache.csv)")
    p.epilog = "Flags after -- go to joulebench measure (e.g. -- --max-batch 4096)."
    args = sys.argv[1:] if argv is None else list(argv)
    cut = args.index("--") if "--" in args else len(args)
    a = p.parse_args(args[:cut])
    if a.report:
        if not Path(a.report).is_file():
            p.error(f"--report {a.report}: no such file (a CSV this benchmark wrote with --csv)")
        print_table(read_csv(Path(a.report)))
        return 0
    if not a.models:
        p.error("name at least one model, or --report CSV")
    if a.runs < 2:
        p.error("--runs must be at least 2: one cold run and one warm")
    extra = ["--meter", a.meter, *args[cut + 1 :]]
    csv_path = (
        Path(a.csv) if a.csv else (Path(os.environ["OUT"]) / "compile-cache.csv" if "OUT" in os.environ else None)
    )
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="jb-compile-cache-") as tmp:
        work = Path(a.work) if a.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for model in a.models:
            for row in run_model(model, a.runtime, a.runs, work, extra):
                rows.append(row)
                if csv_path is not None:
                    append_csv(csv_path, row)
    print_table(rows)
    return 0 if rows and all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
