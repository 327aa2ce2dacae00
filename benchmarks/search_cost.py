"""What does the default batch search save? GPU-seconds and optimal energy per image, ``paper`` vs ``plateau``.

Runs the same models and runtimes twice through the sweep engine, once with ``--search paper`` (double until
out of memory, then bisect; every batch with the full protocol) and once with the default ``plateau``, and
prints per (model, runtime): GPU-seconds of each, their ratio, the optimal energy per image of each and the
relative difference. The issue's target: plateau spends at most 1/5 of paper's GPU-seconds with energy per
image within 2%.

On the H200 (lead)::

    PYTHONPATH=src python3 benchmarks/search_cost.py resnet50.a1_in1k mobilenetv4_conv_small.e2400_r224_in1k \\
        --runtime torch-fp32 --runtime compile-fp16 --meter nvml

Dry run on a CPU (simulated energy; only checks that the script works)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python3 benchmarks/search_cost.py test_vit --runtime cpu-fp32 --meter sim \\
        --img-size 64 --min-window 0.2s --warmup 0.05s --min-iters 3 --idle 0.1s --max-batch 16

Writes ``search_cost.json`` under ``$OUT`` when that is set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from joulebench.commands.measure import build_options  # noqa: E402
from joulebench.sweep import prepare_sweep, run_sweep  # noqa: E402
from joulebench.sweep.progress import make_progress  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+")
    p.add_argument("--runtime", action="append", required=True)
    p.add_argument("--meter", default="nvml")
    p.add_argument("--img-size", type=int, default=None)
    p.add_argument("--warmup", default="3s")
    p.add_argument("--min-window", default="10s")
    p.add_argument("--min-iters", type=int, default=13)
    p.add_argument("--precision", default=None)
    p.add_argument("--idle", default="2s")
    p.add_argument("--max-batch", type=int, default=None)
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per model and runtime")
    p.add_argument("--db", default=None, help="keep the results here (default: a temporary file)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()

    tmp = tempfile.mkdtemp(prefix="joulebench-search-cost-")
    db = a.db or os.path.join(tmp, "search_cost.db")
    results: dict[str, dict] = {}
    for search in ("paper", "plateau"):
        opts = build_options(
            meter=a.meter,
            search=search,
            tf32=None,
            cuda_graphs=False,
            warmup=a.warmup,
            min_iters=a.min_iters,
            min_window=a.min_window,
            precision=a.precision,
            max_window=None,
            cooldown="0s",
            idle=a.idle,
            max_batch=a.max_batch,
            latency_budget="50ms",
        )
        # Separate inductor/Triton caches per search: a compile cached by the first search must not make the
        # second one look cheap (workers inherit the environment).
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(tmp, f"inductor-{search}")
        os.environ["TRITON_CACHE_DIR"] = os.path.join(tmp, f"triton-{search}")
        plan = prepare_sweep(
            a.models, a.runtime, opts, img_size=a.img_size, timeout_s=a.timeout, command=f"search_cost {search}"
        )
        report = run_sweep(plan, db, force=True, progress=make_progress(quiet=a.quiet))
        for r in report.results:
            s = r.summary
            key = f"{s.model}@{s.img_size} {s.runtime}"
            results.setdefault(key, {})[search] = {
                "status": s.status,
                "error": s.error,
                "gpu_seconds": s.gpu_seconds,
                "energy_per_image_j": s.energy_per_image_j,
                "optimal_batch": s.optimal_batch,
                "batches_measured": s.batches_measured,
                "attempts": len(r.measurements),
                "window_seconds": sum(m.duration_s or 0.0 for m in r.measurements),
            }

    head = (
        f"{'model runtime':<52} {'paper s':>8} {'plateau s':>9} {'ratio':>6} {'paper mJ':>9} {'plat. mJ':>9} {'dE':>7}"
    )
    head += f" {'b*paper':>7} {'b*plat':>6} {'n paper':>7} {'n plat':>6}"
    print(head)
    print("-" * len(head))
    rows = []
    for key, d in results.items():
        pa, pl = d.get("paper", {}), d.get("plateau", {})
        ok = pa.get("status") == "ok" and pl.get("status") == "ok"
        ratio = pl["gpu_seconds"] / pa["gpu_seconds"] if ok and pa["gpu_seconds"] else None
        de = pl["energy_per_image_j"] / pa["energy_per_image_j"] - 1 if ok else None
        rows.append({"task": key, "paper": pa, "plateau": pl, "gpu_seconds_ratio": ratio, "energy_rel_diff": de})

        def f(x, spec):
            return "–" if x is None else format(x, spec)

        print(
            f"{key:<52} {f(pa.get('gpu_seconds'), '8.1f')} {f(pl.get('gpu_seconds'), '9.1f')} {f(ratio, '6.2f')} "
            f"{f(pa.get('energy_per_image_j') and pa['energy_per_image_j'] * 1e3, '9.4g')} "
            f"{f(pl.get('energy_per_image_j') and pl['energy_per_image_j'] * 1e3, '9.4g')} {f(de, '+7.2%')} "
            f"{f(pa.get('optimal_batch'), '7d')} {f(pl.get('optimal_batch'), '6d')} "
            f"{f(pa.get('attempts'), '7d')} {f(pl.get('attempts'), '6d')}"
        )
        for name, part in (("paper", pa), ("plateau", pl)):
            if part.get("status") != "ok":
                print(f"    {name} failed: {part.get('error')}")
    tot_pa = sum(r["paper"].get("gpu_seconds") or 0 for r in rows)
    tot_pl = sum(r["plateau"].get("gpu_seconds") or 0 for r in rows)
    worst = max((abs(r["energy_rel_diff"]) for r in rows if r["energy_rel_diff"] is not None), default=None)
    print("-" * len(head))
    print(
        f"total GPU-seconds: paper {tot_pa:.1f}, plateau {tot_pl:.1f}"
        + (f" (ratio {tot_pl / tot_pa:.2f}; target <= 0.20)" if tot_pa else "")
        + (f"; worst |dE| {worst:.2%} (target <= 2%)" if worst is not None else "")
    )
    if a.meter == "sim":
        print("note: --meter sim: simulated energy; these numbers only show that the script runs")
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        payload = {"meter": a.meter, "args": vars(a), "rows": rows, "total": {"paper": tot_pa, "plateau": tot_pl}}
        (Path(out) / "search_cost.json").write_text(json.dumps(payload, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
