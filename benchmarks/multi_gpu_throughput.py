"""Sweep throughput against the number of GPUs: the same small sweep with --gpus 0, 0,1 and 0,1,2,3.

It measures the local executor's ``--gpus`` path, which spreads models over GPUs as ``--executor ray`` does
(one model per GPU at a time, each in a fresh worker subprocess). It prints models per hour against the number
of GPUs, and writes the table as JSON to
``$OUT/multi_gpu_throughput.json`` when ``$OUT`` is set.

Run from the repository root on a machine with several GPUs (about 1.5-3 minutes of GPU time with the defaults)::

    PYTHONPATH=src python3 benchmarks/multi_gpu_throughput.py

Smoke test without a GPU (simulated meter, CPU runtime, tiny models; numbers mean nothing)::

    PYTHONPATH=src python3 benchmarks/multi_gpu_throughput.py --meter sim --runtime cpu-fp32 \
        --models test_vit,test_resnet --max-gpus 1 --max-batch 2 --window 0.05s

Each configuration writes a fresh SQLite file (so resume never skips work) and the wall time covers the
whole ``joulebench measure`` command: process start, model loads, idle baselines and the batch search.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Small, quick models of different kinds (random weights: nothing is downloaded).
DEFAULT_MODELS = (
    "resnet18",
    "mobilenetv3_small_100",
    "efficientnet_b0",
    "regnety_008",
    "convnext_atto",
    "vit_tiny_patch16_224",
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def visible_gpus() -> int:
    """GPUs torch can see (0 when there is no CUDA)."""
    code = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env())
        return int(out.stdout.strip() or 0)
    except (subprocess.SubprocessError, ValueError):
        return 0


def run_config(gpus: list[int], args: argparse.Namespace, tmp: Path) -> dict:
    """Run one ``joulebench measure`` over all models on ``gpus``; return its row of the table."""
    db = tmp / f"gpus-{len(gpus)}.db"
    cmd = [
        sys.executable,
        "-m",
        "joulebench",
        "measure",
        *args.models,
        "--runtime",
        args.runtime,
        "--meter",
        args.meter,
        "--gpus",
        ",".join(map(str, gpus)),
        "--db",
        str(db),
        "--warmup",
        args.warmup,
        "--min-window",
        args.window,
        "--min-iters",
        "3",
        "--idle",
        args.idle,
        "--max-batch",
        str(args.max_batch),
        "--latency-budget",
        "off",
        "--timeout",
        "5min",
        "--json",
    ]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    wall_s = time.monotonic() - t0
    if proc.returncode not in (0, 1):  # 1 = every model failed: still a row, with ok = 0
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"joulebench measure failed with exit status {proc.returncode}: {' '.join(cmd)}")
    with sqlite3.connect(db) as conn:
        ok, failed, gpu_s = conn.execute(
            "SELECT SUM(status = 'ok'), SUM(status != 'ok'), SUM(gpu_seconds) FROM summaries"
        ).fetchone()
    return {
        "gpus": len(gpus),
        "devices": ",".join(map(str, gpus)),
        "models": len(args.models),
        "ok": int(ok or 0),
        "failed": int(failed or 0),
        "wall_s": wall_s,
        "gpu_seconds": float(gpu_s or 0.0),
        "models_per_hour": (int(ok or 0) * 3600.0 / wall_s) if wall_s > 0 else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated timm models")
    p.add_argument("--runtime", default="torch-fp16")
    p.add_argument("--meter", default="nvml")
    p.add_argument("--max-gpus", type=int, default=4, help="largest GPU count to try (1, 2, 4)")
    p.add_argument("--counts", default="1,2,4", help="GPU counts to run, e.g. 2,4 to finish an earlier run")
    p.add_argument("--base-mph", type=float, default=None, help="models/h on 1 GPU from an earlier run (with --counts)")
    p.add_argument("--max-batch", type=int, default=64)
    p.add_argument("--window", default="0.5s", help="--min-window of each batch")
    p.add_argument("--warmup", default="0.25s")
    p.add_argument("--idle", default="0.5s")
    args = p.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]

    n_visible = visible_gpus()
    if args.meter != "sim" and n_visible == 0:
        raise SystemExit("no CUDA GPU is visible; for a smoke test use --meter sim --runtime cpu-fp32")
    limit = min(args.max_gpus, max(n_visible, 1))
    counts = [n for n in sorted({int(c) for c in args.counts.split(",") if c.strip()}) if 1 <= n <= limit]
    # Warm the file cache (torch, timm imports) so the first configuration is not charged for it.
    subprocess.run([sys.executable, "-c", "import torch, timm"], env=_env(), check=False)

    rows = []
    with tempfile.TemporaryDirectory(prefix="joulebench-mgpu-") as tmp:
        for n in counts:
            row = run_config(list(range(n)), args, Path(tmp))
            rows.append(row)
            print(f"  done: {n} GPU(s) in {row['wall_s']:.1f} s: {row}", flush=True)
            _write(rows, args, n_visible)  # after every configuration, so a run cut short still reports

    # Speed-up and efficiency are against one GPU: measured here, or given by --base-mph from an earlier run
    # (rows[0] per GPU otherwise, which assumes perfect scaling up to rows[0]).
    base = args.base_mph or ((rows[0]["models_per_hour"] or 0.0) / rows[0]["gpus"])
    print(f"\nSweep throughput: {len(args.models)} models, runtime {args.runtime}, meter {args.meter}, ")
    print(f"max batch {args.max_batch}, window {args.window}, warm-up {args.warmup}; {n_visible} GPU(s) visible\n")
    head = [("GPUs", 4), ("ok", 3), ("failed", 6), ("wall s", 7), ("GPU-s", 7)]
    head += [("models/h", 9), ("speed-up vs 1 GPU", 17), ("eff.", 5)]
    print("  ".join(f"{name:>{w}}" for name, w in head))
    for r in rows:
        mph = r["models_per_hour"] or 0.0
        speedup = mph / base if base else float("nan")
        r["speedup"] = speedup
        r["efficiency"] = speedup / r["gpus"]
        print(
            f"{r['gpus']:>4}  {r['ok']:>3}  {r['failed']:>6}  {r['wall_s']:>7.1f}  {r['gpu_seconds']:>7.1f}  "
            f"{mph:>9.0f}  {speedup:>17.2f}  {r['efficiency']:>5.2f}"
        )
    path = _write(rows, args, n_visible)
    if path:
        print(f"\nwrote {path}")
    return 0


def _write(rows: list[dict], args: argparse.Namespace, n_visible: int) -> Path | None:
    out = os.environ.get("OUT")
    if not out:
        return None
    path = Path(out) / "multi_gpu_throughput.json"
    path.write_text(json.dumps({"args": vars(args), "visible_gpus": n_visible, "rows": rows}, indent=2))
    return path


if __name__ == "__main__":
    sys.exit(main())
