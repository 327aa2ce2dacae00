"""The tables of an own dataset's report that read its exports and store: tags, boards, cost, stale, repeats.

Each function returns one markdown table (with a line of context), or a sentence where there is nothing to show;
:mod:`joulebench.analysis.dataset_report` prints them in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def table(head: list[str], rows: list[list[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def same_workloads_table(energy: Any, catalogue: Any, setups: list[str], own: list[Any], gpu: str = "H200") -> str:
    """Spread between the tags of each workload the own GPU (``gpu``) measured under several tags, on every setup.

    ``own`` holds the own setups' :class:`~joulebench.analysis.consistency.Repeatability` results (their
    ``per_group`` tables name the workloads and tags).

    The section's first table pools each setup's own repeated workloads (230 on the paper's setups); this one
    compares like with like: the same tags of the same workloads, so the H200's spread (several boards and batch
    searches; :func:`boards_table` separates the boards) stands beside the paper's (one card each).
    """
    import pandas as pd

    from joulebench.analysis.consistency import repeatability

    energy_col = "energy_per_image_j"
    groups = {
        (int(size), tuple(models.split(", ")))
        for r in own
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
    out = f"\nThe same tags on every setup, over the workloads the {gpu} measured under several tags:\n\n"
    out += table(["setup", "workloads", "pooled SD (log)", "median spread", "max spread"], summary)
    return out + "\n\n" + table(["workload (tags)", *shown], rows)


def boards_table(summaries: Any, catalogue: Any, gpu: str = "H200") -> str:
    """The own GPU's (``gpu``) spread between tags of one workload, within one board and across boards.

    The reference setups ran on one card each; the H200 rows come from many boards (``gpu_uuid``), so the
    same-tags spread above mixes a card's run-to-run noise with board-to-board differences. Tags of one workload
    measured on the same board give the first alone. Pooled SDs are of log energy: within a board, about the
    board's own mean (boards with two or more tags); over all boards, about the workload's mean.
    """
    import numpy as np

    from joulebench.analysis.consistency import pooled_sd_log, workload_groups
    from joulebench.analysis.frames import arch_of

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
                    f"{gpu}:{runtime}",
                    len(g),
                    g["gpu_uuid"].nunique(),
                    f"{best[0]:.3f} ({best[1]} tags)" if best else "–",
                    f"{e.max() / e.min():.3f}",
                ]
            )
        summary.append(
            [
                f"{gpu}:{runtime}",
                r["group"].nunique(),
                len(r),
                r["gpu_uuid"].nunique(),
                int(boards["size"].sum()),
                f"{100 * within:.1f}%" if dof_within else "–",
                f"{100 * pooled_sd_log(r['log_e'], r['group'])[0]:.1f}%",
            ]
        )
    out = f"\nThe {gpu}'s spread between tags of one workload, within one board and across boards:\n\n"
    head = ["setup", "workloads", "tags", "boards", "tags sharing a board", "pooled SD, one board", "pooled SD, all"]
    out += table(head, summary) + "\n\n"
    head = ["workload", "setup", "tags", "boards", "largest spread on one board", "spread over all boards"]
    return out + table(head, sorted(rows, key=lambda row: (row[0], row[1])))


def repeats_table(csv: dict[str, Any], data: Path) -> str:
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
    out = table([*head, "at the first's batch (ratio, windows)", "other card"], rows)
    if ratios:
        r = np.log(np.asarray(ratios))
        out += (
            f"\n\nAt the first result's batch, over {len(r)} pairs: latest / first geometric mean "
            f"{np.exp(r.mean()):.3f}, GSD {np.exp(r.std(ddof=1)) if len(r) > 1 else 1.0:.3f}, "
            f"range {np.exp(r.min()):.3f}–{np.exp(r.max()):.3f}."
        )
    return out


def stale_table(csv: dict[str, Any], data: Path, gpu: str = "H200") -> str:
    """The store's results whose search the current rule would continue (``joulebench results --stale``).

    The judgment is the sweep's own (:func:`joulebench.sweep.stale.stale_by_setup`, crash ceilings included) on
    the folder's store named after the GPU (``h200.db``; opened read-only), or on the folder's rows when it is a
    bundle; the table adds each result's last scouted points and optimal batch, largest expected change first (the
    order of ``--redo-stale``).
    """
    from joulebench.store.bundle import MANIFEST, store_of
    from joulebench.store.db import Store
    from joulebench.sweep.stale import stale_by_setup

    db = data / f"{gpu.lower()}.db"
    if db.exists():
        opened = Store.open_readonly(db)
    elif (data / MANIFEST).exists():
        opened = store_of(data)
    else:
        return f"not checked: no {db.name} in {data}, and it is not a bundle"
    s = csv["summaries"]
    kept = dict(
        zip(zip(s["run_id"], s["model"], s["img_size"], s["runtime"], strict=True), s["optimal_batch"], strict=True)
    )
    rows, changes = [], []
    with opened as store:
        for r in stale_by_setup(store, with_ladder=True):  # the ladders it judged on: read once
            changes.append(r["expected_change"])
            key = (r["model"], r["img_size"], r["runtime"])
            energy = {b: e for b, st, e, *_ in r["ladder"] if st == "ok"}
            last = ", ".join(f"{b}: {energy[b] * 1e3:.1f}" for b in sorted(energy)[-3:])
            optimal = kept.get((r["run_id"], *key))
            change = f"-{100 * r['expected_change']:.1f} %"
            rows.append(
                [f"{key[0]}@{key[1]}", key[2], last, r["next_batch"], change, "?" if optimal is None else int(optimal)]
            )
    if not rows:
        return "none"
    head = ["model", "runtime", "last scouted points (batch: mJ/img)", "would scout next", "expected there",
            "optimal batch kept"]  # fmt: skip
    # how much the remeasure may bring: the last two scouts' slope extended to the next batch (a rough guess)
    over = sum(c > 0.005 for c in changes)
    count = (
        f"{len(rows)} results to measure again, largest expected change first: at most {100 * max(changes):.1f} %"
        f" lower at the next batch, over 0.5 % for {over}\n\n"
    )
    return count + table(head, rows)


def cost_table(s: Any, panel: list[str], failures: Any = None) -> str:
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
    return table([*head, "pairs left", "GPU time left, as the sweep plans it"], rows)
