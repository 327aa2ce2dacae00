"""The H200 dataset against the paper's H100 and A100 data: progress, runtime reduction, rank agreement, frontier.

Reads the reference dataset and joulebench's own H200 dataset (``data/h200/dataset`` by default; only that
folder, so the shortened-protocol rows of the sweep issue's panel stay out) and prints markdown tables:

1. progress: configurations of the panel measured per runtime, and failures by reason;
2. the per-model reduction from ``torch-fp32`` to ``compile-fp16`` on the H200 beside the paper's PyTorch ->
   TensorRT reduction on the H100 and A100, over all their models and over the H200's pairs (models it has
   measured on both runtimes);
   and, per model, the H200's reduction beside the H100's (their ratio: above 1, TensorRT saved more);
3. Spearman (and log-Pearson) correlation of per-model energy between the H200 setups and the reference ones;
4. the ImageNet Pareto frontier of the H200 compile-fp16 setup against the H100 TensorRT one, both restricted
   to the models measured on both;
5. consistency of the energy data: identical workloads measured under several tags on each setup, and the
   models whose energy ratio between two setups of one runtime is far from the typical one (joulebench's
   ``repeatability`` and ``ratio_outliers``), listing those among the H200's models; and the workloads the H200
   measured under several tags, with the spread of the same tags on every setup, and that spread split into
   the part within one H200 board (tags measured on the same card) and the part across boards;
6. the measuring cost per model and runtime (``gpu_seconds``, ``compile_time_s``), how much of it the model's
   MACs explain (a log-log least-squares fit), and what the panel's remaining pairs need as the sweep's deadline
   planner costs them (:meth:`joulebench.sweep.TaskCosts.estimate_task`);
7. the results whose stored scouting ladder the current plateau rule would have continued, judged on the
   folder's ``h200.db`` as ``joulebench results --stale`` judges them
   (:func:`joulebench.sweep.stale.stale_by_setup`): measured under an older rule, to be measured again
   (``joulebench measure … --redo-stale``);
8. the results measured more than once (the report keeps the latest): the first and the latest value, and the
   two runs at the first's optimal batch, which separates a changed search from run-to-run (and, as the runs
   land on different cards, card-to-card) differences at one batch size.

Run from the repository root (CPU only, a few seconds)::

    PYTHONPATH=src python3 benchmarks/h200_dataset_report.py [--data data/h200/dataset] [--panel .../panel.txt]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
H200 = ("H200:torch-fp32", "H200:compile-fp16")
PAPER = (("H100:torch-fp32", "H100:tensorrt-fp16"), ("A100:torch-fp32", "A100:tensorrt-fp16"))


def _table(head: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _reduction_row(name: str, red) -> list[object]:
    q = red.quantiles
    return [
        name,
        red.n,
        f"{red.geomean:.2f}x",
        f"{red.gsd:.2f}",
        f"{q['p05']:.2f}x / {q['median']:.2f}x / {q['p95']:.2f}x",
        f"{100 * red.fraction_worse:.0f}%",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=ROOT / "data/h200/dataset", help="folder with summaries.csv")
    p.add_argument("--panel", type=Path, default=None, help="panel file (tag@size per line); default DATA/panel.txt")
    args = p.parse_args(argv)

    import pandas as pd

    from joulebench.analysis._common import dedupe_energy, energy_accuracy, paired_setups
    from joulebench.analysis.correlation import setup_correlations
    from joulebench.analysis.effects import runtime_reduction
    from joulebench.analysis.frontier import frontier
    from joulebench.data import load_dataset

    ds = load_dataset(data=[args.data])
    energy = dedupe_energy(ds.energy)
    own = energy[energy["setup"].isin(H200)]
    panel_path = args.panel or args.data / "panel.txt"
    panel = (
        [line.strip() for line in panel_path.read_text().splitlines() if line.strip()] if panel_path.exists() else []
    )

    print("## Progress\n")
    rows = []
    for setup in H200:
        n = int((own["setup"] == setup).sum())
        rows.append([setup, n, len(panel) or "?", f"{100 * n / len(panel):.0f}%" if panel else "?"])
    print(_table(["setup", "measured", "panel", "done"], rows))
    failures = args.data / "failures.csv"
    if failures.exists():
        f = pd.read_csv(failures)
        if len(f):
            print("\nFailures by runtime, stage and reason:\n")
            g = f.groupby(["runtime", "stage", "reason"]).size().reset_index(name="n")
            print(_table(["runtime", "stage", "reason", "n"], g.values.tolist()))
        else:
            print("\nNo failures recorded.")

    print("\n## Reduction from the baseline runtime to the optimised one (per model, baseline / optimised)\n")
    have = set(zip(own["model"], own["img_size"], strict=True))
    h200 = runtime_reduction(energy, *H200)
    rows = [_reduction_row("H200 torch-fp32 -> compile-fp16", h200)]
    paper = {}
    # The models with both H200 runtimes, so the paper's reduction is taken over exactly the H200's pairs.
    paired = set(zip(h200.per_model["model"], h200.per_model["img_size"], strict=True))
    sub = energy[energy.set_index(["model", "img_size"]).index.isin(list(paired))]
    for base, opt in PAPER:
        red = paper[base] = runtime_reduction(energy, base, opt)
        gpu = base.split(":")[0]
        rows.append(_reduction_row(f"{gpu} torch-fp32 -> tensorrt-fp16, all (paper)", red))
        if len(paired_setups(sub, base, opt)) >= 2:
            rows.append(
                _reduction_row(f"{gpu} torch-fp32 -> tensorrt-fp16, H200's models", runtime_reduction(sub, base, opt))
            )
    print(_table(["comparison", "models", "geometric mean", "GSD", "p05 / median / p95", "optimised worse"], rows))

    print("\n## Per model: the H200's compile-fp16 reduction beside the H100's TensorRT one (mJ per image)\n")
    both = h200.per_model.merge(paper["H100:torch-fp32"].per_model, on=["model", "img_size"], suffixes=("", "_h100"))
    both["ratio"] = both["factor_h100"] / both["factor"]
    rows = [
        [
            f"{r.model}@{r.img_size}",
            f"{r.energy_a * 1e3:.2f}",
            f"{r.energy_b * 1e3:.2f}",
            f"{r.factor:.2f}x",
            f"{r.energy_a_h100 * 1e3:.2f}",
            f"{r.energy_b_h100 * 1e3:.2f}",
            f"{r.factor_h100:.2f}x",
            f"{r.ratio:.2f}",
        ]
        for r in both.sort_values("ratio").itertuples()
    ]
    head = ["model", "H200 fp32", "H200 compile", "H200 reduction", "H100 fp32", "H100 TensorRT", "H100 reduction"]
    print(_table([*head, "H100 / H200 reduction"], rows))

    print("\n## Rank agreement of per-model energy with the reference setups\n")
    setups = [*H200, *(s for pair in PAPER for s in pair)]
    corr = setup_correlations(energy[energy["setup"].isin(setups)], setups, min_n=3)
    corr = corr[corr["setup_a"].isin(H200) | corr["setup_b"].isin(H200)]
    corr = corr[~(corr["setup_a"].isin(H200) & corr["setup_b"].isin(H200))]
    rows = [
        [r.setup_a, r.setup_b, r.n, f"{r.spearman:.3f}", f"{r.pearson_log:.3f}", f"{r.median_ratio_b_over_a:.2f}"]
        for r in corr.itertuples()
    ]
    print(_table(["setup A", "setup B", "models", "Spearman", "Pearson (log)", "median B/A energy"], rows))

    print("\n## ImageNet frontier: H200 compile-fp16 vs H100 TensorRT FP16, over the models measured on both\n")
    both = paired_setups(energy, "H200:compile-fp16", "H100:tensorrt-fp16")[["model", "img_size"]]
    fronts = {}
    for setup in ("H200:compile-fp16", "H100:tensorrt-fp16"):
        front = frontier(energy_accuracy(energy, ds.accuracy, setup).merge(both, on=["model", "img_size"]))
        fronts[setup] = set(zip(front["model"], front["img_size"], strict=True))
    a, b = fronts["H200:compile-fp16"], fronts["H100:tensorrt-fp16"]
    fmt = lambda keys: ", ".join(f"{m}@{s}" for m, s in sorted(keys)) or "none"  # noqa: E731
    print(f"- models on both setups (with ImageNet accuracy): {len(both)}")
    print(f"- on both frontiers ({len(a & b)}): {fmt(a & b)}")
    print(f"- only on the H200 frontier ({len(a - b)}): {fmt(a - b)}")
    print(f"- only on the H100 frontier ({len(b - a)}): {fmt(b - a)}")

    print("\n## Consistency: identical workloads under several tags, and ratio outliers between GPUs\n")
    from joulebench.analysis.consistency import ratio_outliers, repeatabilities, summary_table

    reps = repeatabilities(energy, None, ds.catalogue)  # every setup with repeated workloads
    rep = summary_table(reps)
    rows = [
        [
            r.setup,
            r.groups,
            r.configs,
            f"{100 * r.pooled_sd_log:.1f}%",
            f"{r.median_spread:.3f}",
            f"{r.p90_spread:.3f}",
            f"{r.max_spread:.2f}",
            r.discordant,
        ]
        for r in rep.itertuples()
    ]
    head = ["setup", "workloads", "configs", "pooled SD (log)", "median spread", "p90", "max", "spread > 1.10"]
    print(_table(head, rows))
    none = [s for s in setups if s not in set(rep["setup"])]
    if none:
        print(f"\nNo workload measured under two or more tags yet: {', '.join(none)}.")
    if same := _same_workloads_table(energy, ds.catalogue, setups, [r for r in reps if r.setup in H200]):
        print(same)
    # each table from here on reads these exports: once here, not once per table
    csv = {
        n: pd.read_csv(f) for n in ("summaries", "measurements", "failures") if (f := args.data / f"{n}.csv").exists()
    }
    if boards := _boards_table(csv["summaries"], ds.catalogue):
        print(boards)
    pairs = [
        ("H100:torch-fp32", "A100:torch-fp32"),
        ("H100:tensorrt-fp16", "A100:tensorrt-fp16"),
        ("H200:torch-fp32", "A100:torch-fp32"),
        ("H200:torch-fp32", "H100:torch-fp32"),
    ]
    rows, flagged = [], []
    for setup, ref in pairs:
        if len(paired_setups(energy, setup, ref)) < 3:
            continue
        o = ratio_outliers(energy, setup, ref)
        mine = o.outliers[o.outliers.set_index(["model", "img_size"]).index.isin(list(have))]
        rows.append([f"{setup} / {ref}", o.n, f"{o.median_ratio:.3f}", o.low, o.high, o.blamed, len(mine)])
        names = {"setup": setup, "reference": ref}
        flagged += [
            f"- {setup} / {ref}: {r.model}@{r.img_size} {r.energy_j * 1e3:.2f} / {r.reference_energy_j * 1e3:.2f} mJ"
            f" = {r.ratio:.2f} ({r.off_by:.2f}x the median); implied power {100 * r.power_fraction:.0f} % / "
            f"{100 * r.reference_power_fraction:.0f} % of the limits ({r.power_off_by:.2f}x the median ratio): "
            + (f"the {names[r.blame]} reading is off" if r.blame else "a difference of speed")
            for r in mine.itertuples()
        ]
    print()
    head = ["setups", "models", "median ratio", "below / 1.5", "above x 1.5", "off by power", "H200's models"]
    print(_table(head, rows))
    print("\nOutliers among the H200's models:\n")
    print("\n".join(flagged) or "none")

    print("\n## Cost per model: GPU-seconds a finished model held its GPU, and what the rest of the panel needs\n")
    print(_cost_table(csv["summaries"], panel, csv.get("failures")))

    print("\n## Searches the current plateau rule would continue (measured under an older rule)\n")
    print(_unfinished_table(csv, args.data))

    print("\n## Results measured more than once (the latest is kept)\n")
    print(_repeats_table(csv, args.data))
    return 0


def _same_workloads_table(energy: Any, catalogue: Any, setups: list[str], h200: list[Any]) -> str:
    """Spread between the tags of each workload the H200 measured under several tags, on every setup.

    ``h200`` holds the H200 setups' :class:`~joulebench.analysis.consistency.Repeatability` results (their
    ``per_group`` tables name the workloads and tags).

    The section's first table pools each setup's own repeated workloads (230 on the paper's setups); this one
    compares like with like: the same tags of the same workloads, so the H200's spread (several boards and batch
    searches; :func:`_boards_table` separates the boards) stands beside the paper's (one card each).
    """
    import pandas as pd

    from joulebench.analysis.consistency import repeatability

    energy_col = "energy_per_image_j"
    groups = {
        (int(size), tuple(models.split(", ")))
        for r in h200
        for size, models in zip(r.per_group["img_size"], r.per_group["models"], strict=True)
    }
    groups = sorted(groups, key=lambda g: (g[1][0], g[0]))
    if not groups:
        return ""
    spreads: dict[str, dict[tuple[int, tuple[str, ...]], float]] = {}
    summary = []
    for setup in setups:
        parts = []
        for size, models in groups:
            g = energy[(energy["setup"] == setup) & (energy["img_size"] == size) & energy["model"].isin(models)]
            if len(g) == len(models):  # every tag measured on this setup
                parts.append(g)
                spreads.setdefault(setup, {})[(size, models)] = g[energy_col].max() / g[energy_col].min()
        if parts:
            r = repeatability(pd.concat(parts), setup, catalogue)
            summary.append([setup, r.groups, f"{100 * r.pooled_sd_log:.1f}%", f"{r.median_spread:.3f}",
                            f"{r.max_spread:.3f}"])  # fmt: skip
    shown = [s for s in setups if s in spreads]
    rows = [
        [f"{' / '.join(m.split('.', 1)[1] for m in models)} ({models[0].split('.')[0]}@{size})"]
        + [f"{spreads[s][(size, models)]:.3f}" if (size, models) in spreads[s] else "–" for s in shown]
        for size, models in groups
    ]
    out = "\nThe same tags on every setup, over the workloads the H200 measured under several tags:\n\n"
    out += _table(["setup", "workloads", "pooled SD (log)", "median spread", "max spread"], summary)
    return out + "\n\n" + _table(["workload (tags)", *shown], rows)


def _boards_table(summaries: Any, catalogue: Any) -> str:
    """The H200's spread between tags of one workload, within one board and across boards.

    The reference setups ran on one card each; the H200 rows come from many boards (``gpu_uuid``), so the
    same-tags spread above mixes a card's run-to-run noise with board-to-board differences. Tags of one workload
    measured on the same board give the first alone. Pooled SDs are of log energy: within a board, about the
    board's own mean (boards with two or more tags); over all boards, about the workload's mean.
    """
    import numpy as np

    from joulebench.analysis._common import arch_of
    from joulebench.analysis.consistency import pooled_sd_log, workload_groups

    s = summaries[summaries["status"] == "ok"].sort_values("finished_at")
    s = s.drop_duplicates(["model", "img_size", "runtime"], keep="last")  # the result the dataset keeps
    s = s.assign(group=workload_groups(s, catalogue), log_e=np.log(s["energy_per_image_j"].astype(float)))
    s = s[s.groupby(["runtime", "group"])["model"].transform("size") >= 2]
    if s.empty:
        return ""
    summary, rows = [], []
    for runtime, r in s.groupby("runtime", sort=False):
        # a board's tags of one workload: how far apart they are, and how many (one tag alone says nothing)
        boards = r.groupby(["group", "gpu_uuid"])["energy_per_image_j"].agg(["max", "min", "size"]).reset_index()
        boards = boards[boards["size"] >= 2]
        within, dof_within = pooled_sd_log(r["log_e"], [r["group"], r["gpu_uuid"]])
        for group, g in r.groupby("group", sort=True):
            b = boards[boards["group"] == group]
            best = max(zip(b["max"] / b["min"], b["size"], strict=True), default=None)
            e = g["energy_per_image_j"]
            rows.append(
                [
                    f"{arch_of(g['model']).iloc[0]}@{int(g['img_size'].iloc[0])}",
                    f"H200:{runtime}",
                    len(g),
                    g["gpu_uuid"].nunique(),
                    f"{best[0]:.3f} ({best[1]} tags)" if best else "–",
                    f"{e.max() / e.min():.3f}",
                ]
            )
        summary.append(
            [
                f"H200:{runtime}",
                r["group"].nunique(),
                len(r),
                r["gpu_uuid"].nunique(),
                int(boards["size"].sum()),
                f"{100 * within:.1f}%" if dof_within else "–",
                f"{100 * pooled_sd_log(r['log_e'], r['group'])[0]:.1f}%",
            ]
        )
    out = "\nThe H200's spread between tags of one workload, within one board and across boards:\n\n"
    head = ["setup", "workloads", "tags", "boards", "tags sharing a board", "pooled SD, one board", "pooled SD, all"]
    out += _table(head, summary) + "\n\n"
    head = ["workload", "setup", "tags", "boards", "largest spread on one board", "spread over all boards"]
    return out + _table(head, sorted(rows, key=lambda row: (row[0], row[1])))


def _repeats_table(csv: dict[str, Any], data: Path) -> str:
    """First vs latest result per configuration and runtime, and both runs at the first result's optimal batch."""
    import numpy as np

    if "measurements" not in csv:
        return f"not checked: no measurements.csv in {data}"
    s = csv["summaries"]
    s = s[s["status"] == "ok"].sort_values("finished_at")
    m = csv["measurements"]
    m = m[m["status"] == "ok"]
    m = m.assign(phase=m["trace_summary"].fillna("").str.extract(r'"phase": "([a-z]+)"', expand=False))
    # one batch's windows of one phase (scouting windows are short and noisier): compare like with like
    at = m.groupby(["run_id", "model", "img_size", "runtime", "batch_size", "phase"])["energy_per_image_j"].median()
    rows, ratios = [], []
    for (model, size, runtime), g in s.groupby(["model", "img_size", "runtime"], sort=True):
        if len(g) < 2:
            continue
        first, last = g.iloc[0], g.iloc[-1]
        b = int(first["optimal_batch"])
        same = "–"
        for phase in ("full", "scout"):
            pair = [at.get((r["run_id"], model, size, runtime, b, phase)) for r in (first, last)]
            if all(v is not None and v > 0 for v in pair):
                ratios.append(pair[1] / pair[0])
                same = f"{pair[0] * 1e3:.2f} -> {pair[1] * 1e3:.2f} ({pair[1] / pair[0]:.3f}, {phase})"
                break
        rows.append(
            [
                f"{model}@{size}",
                runtime,
                f"{first['energy_per_image_j'] * 1e3:.2f} @ {b}",
                f"{last['energy_per_image_j'] * 1e3:.2f} @ {int(last['optimal_batch'])}",
                f"{last['energy_per_image_j'] / first['energy_per_image_j'] - 1:+.1%}",
                same,
                "yes" if first.get("gpu_uuid") != last.get("gpu_uuid") else "no",
            ]
        )
    if not rows:
        return "none"
    head = ["model", "runtime", "first (mJ @ batch)", "latest (mJ @ batch)", "change"]
    out = _table([*head, "at the first's batch (ratio, windows)", "other card"], rows)
    if ratios:
        r = np.log(np.asarray(ratios))
        out += (
            f"\n\nAt the first result's batch, over {len(r)} pairs: latest / first geometric mean "
            f"{np.exp(r.mean()):.3f}, GSD {np.exp(r.std(ddof=1)) if len(r) > 1 else 1.0:.3f}, "
            f"range {np.exp(r.min()):.3f}–{np.exp(r.max()):.3f}."
        )
    return out


def _unfinished_table(csv: dict[str, Any], data: Path) -> str:
    """The store's results whose search the current rule would continue (``joulebench results --stale``).

    The judgment is the sweep's own (:func:`joulebench.sweep.stale.stale_by_setup`, crash ceilings included) on
    the folder's ``h200.db``, opened read-only; the table adds each result's last scouted points and optimal batch.
    """
    from joulebench.store.db import Store
    from joulebench.sweep.stale import stale_by_setup

    db = data / "h200.db"
    if not db.exists():
        return f"not checked: no h200.db in {data}"
    s = csv["summaries"]
    kept = dict(
        zip(zip(s["run_id"], s["model"], s["img_size"], s["runtime"], strict=True), s["optimal_batch"], strict=True)
    )
    rows = []
    with Store.open_readonly(db) as store:
        for r in stale_by_setup(store):
            key = (r["model"], r["img_size"], r["runtime"])
            energy = {b: e for b, st, e in store.scout_ladder(r["run_id"], *key) if st == "ok"}
            last = ", ".join(f"{b}: {energy[b] * 1e3:.1f}" for b in sorted(energy)[-3:])
            optimal = kept.get((r["run_id"], *key))
            rows.append([f"{key[0]}@{key[1]}", key[2], last, r["next_batch"], "?" if optimal is None else int(optimal)])
    if not rows:
        return "none"
    head = ["model", "runtime", "last scouted points (batch: mJ/img)", "would scout next", "optimal batch kept"]
    return _table(head, rows)


def _cost_table(s: Any, panel: list[str], failures: Any = None) -> str:
    """Per runtime: cost range, median and the sweep's estimate; compile time; the MACs fit; pairs left.

    The pairs left are costed as the sweep's deadline planner costs them (``TaskCosts.estimate_task``: a measured
    twin's cost plus its margin, else the runtime's 75th percentile; at least what a deadline stop showed).
    """
    import numpy as np

    from joulebench.models.stats import load_stats
    from joulebench.store.db import STOP_STAGES
    from joulebench.sweep import Task, TaskCosts

    s = s[(s["status"] == "ok") & s["gpu_seconds"].notna()]
    s = s.merge(load_stats(include_cache=False)[["model", "img_size", "macs"]], on=["model", "img_size"], how="left")
    stopped = {}
    if failures is not None and len(failures):
        f = failures[failures["stage"].isin(STOP_STAGES) & failures["gpu_seconds"].notna()]
        stopped = f.groupby(["model", "img_size", "runtime"])["gpu_seconds"].max().to_dict()
    tasks = s.groupby(["model", "img_size", "runtime"])["gpu_seconds"].apply(list).to_dict()
    costs = TaskCosts.from_tasks(tasks, stopped)
    rows = []
    for rt, g in s.groupby("runtime"):
        sec, comp, fit = g["gpu_seconds"], g["compile_time_s"].dropna(), g[g["macs"] > 0]
        r2 = slope = "–"
        if len(fit) >= 3:
            x, y = np.log(fit["macs"].to_numpy(float)), np.log(fit["gpu_seconds"].to_numpy(float))
            b, a = np.polyfit(x, y, 1)
            r2, slope = f"{100 * (1 - np.var(y - (a + b * x)) / np.var(y)):.1f}%", f"{b:+.3f}"
        est = costs.estimate(rt)
        done = {f"{m}@{i}" for m, i in zip(g["model"], g["img_size"], strict=True)}
        left = sorted(set(panel) - done) if panel else None
        planned = [
            costs.estimate_task(Task(run_id="", spec={"model": m, "img_size": int(i)}, runtime=rt))
            for m, i in (name.rsplit("@", 1) for name in left or [])
        ]
        rows.append(
            [
                rt,
                len(g),
                f"{sec.min():.0f}–{sec.max():.0f}",
                f"{sec.median():.0f}",
                f"{est:.0f}",
                f"{comp.min():.0f}–{comp.max():.0f}" if len(comp) else "–",
                slope,
                r2,
                "?" if left is None else len(left),
                "?" if left is None else f"{sum(planned):.0f} s ({sum(planned) / 3600:.1f} h)",
            ]
        )
    head = ["runtime", "models", "GPU-s", "median", "estimate (p75)", "compile s", "MACs slope (log-log)", "R²"]
    return _table([*head, "pairs left", "GPU time left, as the sweep plans it"], rows)


if __name__ == "__main__":
    sys.exit(main())
