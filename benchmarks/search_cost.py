"""What does the plateau batch search save against the paper's? GPU-seconds and optimal energy per image.

Runs the same models and runtimes through the sweep engine with ``--search paper`` (double until out of memory, then
bisect; every batch with the full protocol) and with ``plateau`` (the default before ``scan``), ``--rounds`` times
each (default 2), alternating which search goes first: paper, plateau, then plateau, paper. Back to back on one
board the second search runs on a card the first one heated, which draws more power for the same work (the H200,
2026-11-28: the same batch at the same throughput read 2.2% more energy 5 minutes later, idle power 81 -> 102 W);
the alternation cancels that drift. Prints each run (GPU-seconds, optimal energy per image and batch, idle power,
temperature at the optimum) and per (model, runtime) the means: GPU-seconds of each search, their ratio, the optimal
energy per image of each and the relative difference, in total and above idle. The claim it checks
(docs/validation/plateau-search.md): plateau spends at most 1/5 of paper's GPU-seconds with energy per image within
2%. For the default ``scan`` search, ``benchmarks/search_regret.py`` measures regret against fixed-batch ladders.

On a GPU::

    PYTHONPATH=src python3 benchmarks/search_cost.py resnet50.a1_in1k mobilenetv4_conv_small.e2400_r224_in1k \\
        --runtime torch-fp32 --runtime compile-fp16 --meter nvml

Dry run on a CPU (simulated energy; only checks that the script works)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python3 benchmarks/search_cost.py test_vit --runtime cpu-fp32 --meter sim \\
        --img-size 64 --min-window 0.2s --warmup 0.05s --min-iters 3 --idle 0.1s --max-batch 16 --quiet

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

from joulebench.cli.measure import build_options  # noqa: E402
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
    p.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="runs of each search, alternating which goes first (default 2: paper, plateau, plateau, paper)",
    )
    a = p.parse_args()
    if a.rounds < 1:
        p.error("--rounds must be at least 1")

    tmp = tempfile.mkdtemp(prefix="joulebench-search-cost-")
    db = a.db or os.path.join(tmp, "search_cost.db")
    # runs[key][search] = one dict per round. Rounds alternate the order (paper first, then plateau first):
    # back to back on one board, the second search runs on a card the first one heated, and a hotter card
    # draws more power for the same work, so a fixed order would bias the energy comparison.
    runs: dict[str, dict[str, list[dict]]] = {}
    order: list[str] = []
    for rnd in range(a.rounds):
        for search in ("paper", "plateau") if rnd % 2 == 0 else ("plateau", "paper"):
            order.append(search)
            for key, run in _sweep(a, search, rnd, db, tmp).items():
                runs.setdefault(key, {}).setdefault(search, []).append(run)
    rows = [_row(key, d) for key, d in runs.items()]
    total = {search: sum(r[search]["gpu_seconds"] or 0 for r in rows) for search in ("paper", "plateau")}
    _print(rows, total, a)
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        payload = {"meter": a.meter, "args": vars(a), "order": order, "rows": rows, "total": total}
        (Path(out) / "search_cost.json").write_text(json.dumps(payload, indent=2, default=str))
    return 0


def _sweep(a: argparse.Namespace, search: str, rnd: int, db: str, tmp: str) -> dict[str, dict]:
    """One search over every model and runtime; per task the numbers the comparison needs."""
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
    # Separate inductor/Triton caches per run: a compile cached by an earlier run must not make a later one
    # look cheap (workers inherit the environment).
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(tmp, f"inductor-{search}-{rnd}")
    os.environ["TRITON_CACHE_DIR"] = os.path.join(tmp, f"triton-{search}-{rnd}")
    plan = prepare_sweep(
        a.models, a.runtime, opts, img_size=a.img_size, timeout_s=a.timeout, command=f"search_cost {search} {rnd}"
    )
    report = run_sweep(plan, db, force=True, progress=make_progress(quiet=a.quiet))
    out: dict[str, dict] = {}
    for r in report.results:
        s = r.summary
        at_opt = [
            m
            for m in r.measurements
            if m.status == "ok" and m.batch_size == s.optimal_batch and (m.trace_summary or {}).get("phase") == "full"
        ]
        out[f"{s.model}@{s.img_size} {s.runtime}"] = {
            "round": rnd,
            "status": s.status,
            "error": s.error,
            "gpu_seconds": s.gpu_seconds,
            "energy_per_image_j": s.energy_per_image_j,
            "dynamic_energy_per_image_j": s.dynamic_energy_per_image_j,
            "optimal_batch": s.optimal_batch,
            "idle_power_w": s.idle_power_w,
            "temperature_at_optimum_c": at_opt[-1].temperature_max_c if at_opt else None,
            "batches_measured": s.batches_measured,
            "attempts": len(r.measurements),
            "window_seconds": sum(m.duration_s or 0.0 for m in r.measurements),
        }
    return out


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _row(key: str, d: dict[str, list[dict]]) -> dict:
    """Per task: each search's runs and their means, the GPU-seconds ratio and the energy difference."""
    row: dict = {"task": key}
    for search in ("paper", "plateau"):
        rs = d.get(search, [])
        ok = [r for r in rs if r["status"] == "ok"]
        row[search] = {
            "runs": rs,
            "status": "ok" if rs and len(ok) == len(rs) else "failed",
            "gpu_seconds": _mean([r["gpu_seconds"] for r in ok]),
            "energy_per_image_j": _mean([r["energy_per_image_j"] for r in ok]),
            "dynamic_energy_per_image_j": _mean([r["dynamic_energy_per_image_j"] for r in ok]),
        }
    pa, pl = row["paper"], row["plateau"]
    ok = pa["status"] == "ok" and pl["status"] == "ok"
    row["gpu_seconds_ratio"] = pl["gpu_seconds"] / pa["gpu_seconds"] if ok and pa["gpu_seconds"] else None
    row["energy_rel_diff"] = pl["energy_per_image_j"] / pa["energy_per_image_j"] - 1 if ok else None
    dyn = ok and pa["dynamic_energy_per_image_j"] and pl["dynamic_energy_per_image_j"]
    row["dynamic_energy_rel_diff"] = (
        pl["dynamic_energy_per_image_j"] / pa["dynamic_energy_per_image_j"] - 1 if dyn else None
    )
    return row


def _f(x: float | int | None, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def _mj(x: float | None) -> float | None:
    return None if x is None else x * 1e3


def _print(rows: list[dict], total: dict[str, float], a: argparse.Namespace) -> None:
    print("Each run (rounds alternate which search goes first):")
    head = f"{'model runtime':<48} {'search':<8} {'round':>5} {'GPU-s':>7} {'mJ/img':>8} {'batch':>6}"
    head += f" {'idle W':>6} {'°C':>4}"
    print(head)
    print("-" * len(head))
    for row in rows:
        for search in ("paper", "plateau"):
            for r in row[search]["runs"]:
                print(
                    f"{row['task']:<48} {search:<8} {r['round']:>5d} {_f(r['gpu_seconds'], '7.1f')} "
                    f"{_f(_mj(r['energy_per_image_j']), '8.4g')} {_f(r['optimal_batch'], '6d')} "
                    f"{_f(r['idle_power_w'], '6.0f')} {_f(r['temperature_at_optimum_c'], '4.0f')}"
                    + (f"  failed: {r['error']}" if r["status"] != "ok" else "")
                )
    print()
    print(f"Means over {a.rounds} round(s):")
    head = f"{'model runtime':<48} {'paper s':>8} {'plateau s':>9} {'ratio':>6} {'paper mJ':>9} {'plat. mJ':>9}"
    head += f" {'dE':>7} {'dE above idle':>13}"
    print(head)
    print("-" * len(head))
    for row in rows:
        pa, pl = row["paper"], row["plateau"]
        print(
            f"{row['task']:<48} {_f(pa['gpu_seconds'], '8.1f')} {_f(pl['gpu_seconds'], '9.1f')} "
            f"{_f(row['gpu_seconds_ratio'], '6.3f')} {_f(_mj(pa['energy_per_image_j']), '9.4g')} "
            f"{_f(_mj(pl['energy_per_image_j']), '9.4g')} {_f(row['energy_rel_diff'], '+7.2%')} "
            f"{_f(row['dynamic_energy_rel_diff'], '+13.2%')}"
        )
    tot_pa, tot_pl = total["paper"], total["plateau"]
    worst = max((abs(r["energy_rel_diff"]) for r in rows if r["energy_rel_diff"] is not None), default=None)
    print("-" * len(head))
    print(
        f"total GPU-seconds: paper {tot_pa:.1f}, plateau {tot_pl:.1f}"
        + (f" (ratio {tot_pl / tot_pa:.3f}; target <= 0.20)" if tot_pa else "")
        + (f"; worst |dE| {worst:.2%} (target <= 2%)" if worst is not None else "")
    )
    if a.meter == "sim":
        print("note: --meter sim: simulated energy; these numbers only show that the script runs")


if __name__ == "__main__":
    sys.exit(main())
