"""Compute params/MACs/activations for every pretrained timm configuration and time it.

Usage: ``python benchmarks/stats_all.py [--workers 2] [--refresh] [--limit N] [--ship]``

Run once from scratch it fills the cache (``~/.cache/joulebench/model_stats.jsonl``); a second run is
incremental (only configurations new to this timm version are computed). ``--ship`` writes the
package's ``src/joulebench/data/model_stats.csv.gz``. Prints a timing table; writes JSON under ``$OUT``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--refresh", action="store_true")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--every", type=int, default=1, help="only every N-th configuration (a uniform sample)")
    ap.add_argument("--ship", action="store_true", help="write the shipped stats file")
    args = ap.parse_args()

    t0 = time.perf_counter()
    import timm

    from joulebench.models.catalogue import pretrained_configurations
    from joulebench.models.stats import SHIPPED_STATS, STATS_COLUMNS, compute_many

    configs = pretrained_configurations()
    jobs = [(c["model"], c["img_size"]) for c in configs]
    jobs = jobs[:: max(args.every, 1)]
    if args.limit:
        jobs = jobs[: args.limit]
    t_list = time.perf_counter() - t0

    n_new = 0
    t1 = time.perf_counter()

    def progress(s):
        nonlocal n_new
        n_new += 1
        if n_new % 50 == 0:
            print(f"  {n_new} computed, {time.perf_counter() - t1:.0f} s", flush=True)

    cpu0 = os.times()
    results = compute_many(jobs, workers=args.workers, refresh=args.refresh, progress=progress)
    t_stats = time.perf_counter() - t1
    cpu1 = os.times()
    # CPU seconds of this process and its (joined) workers: independent of other load on the machine
    cpu_s = sum(getattr(cpu1, k) - getattr(cpu0, k) for k in ("user", "system", "children_user", "children_system"))
    methods: dict[str, int] = {}
    for r in results:
        methods[r.method] = methods.get(r.method, 0) + 1

    if args.ship:
        import pandas as pd

        df = pd.DataFrame([r.to_dict() for r in results], columns=list(STATS_COLUMNS))
        df = df.sort_values(["model", "img_size"]).reset_index(drop=True)
        SHIPPED_STATS.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(SHIPPED_STATS, index=False, compression={"method": "gzip", "mtime": 0})

    rows = [
        ("configurations", f"{len(jobs)}"),
        ("computed now (not cached)", f"{n_new}"),
        ("by method", ", ".join(f"{k}={v}" for k, v in sorted(methods.items()))),
        ("listing pretrained configs (s)", f"{t_list:.1f}"),
        ("stats wall time (s)", f"{t_stats:.1f}"),
        ("per computed config (s)", f"{t_stats / max(n_new, 1):.2f}"),
        ("CPU seconds (all processes)", f"{cpu_s:.0f}"),
        ("CPU s per computed config", f"{cpu_s / max(n_new, 1):.2f}"),
        (f"estimate on {args.workers} idle cores (min)", f"{cpu_s / max(args.workers, 1) / 60:.1f}"),
        ("load average at end", " ".join(f"{x:.1f}" for x in os.getloadavg())),
        ("workers", f"{args.workers}"),
        ("cpu cores", f"{os.cpu_count()}"),
        ("timm", timm.__version__),
        ("python", platform.python_version()),
    ]
    w = max(len(k) for k, _ in rows)
    print(f"{'quantity':<{w}}  value")
    for k, v in rows:
        print(f"{k:<{w}}  {v}")
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "stats_all.json").write_text(json.dumps(dict(rows), indent=2))


if __name__ == "__main__":
    main()
