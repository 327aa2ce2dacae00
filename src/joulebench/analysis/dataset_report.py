"""An own dataset (by default the H200 one) against the paper's H100 and A100 data, as markdown tables.

Reads the reference dataset and one folder of joulebench exports (``data/h200/dataset`` by default; only that
folder, so rows measured with a shortened protocol elsewhere stay out) and prints:

1. progress: configurations of the panel measured per runtime, and failures by reason;
2. the per-model reduction from ``torch-fp32`` to ``compile-fp16`` beside the paper's PyTorch -> TensorRT
   reduction on the H100 and A100, over all their models and over the own pairs (models measured on both
   runtimes); and, per model, the own reduction beside the H100's (their ratio: above 1, TensorRT saved more);
3. Spearman (and log-Pearson) correlation of per-model energy between the own setups and the reference ones;
4. the ImageNet Pareto frontier of the own compile-fp16 setup against the H100 TensorRT one, both restricted to
   the models measured on both;
5. consistency of the energy data: identical workloads measured under several tags on each setup, and the models
   whose energy ratio between two setups of one runtime is far from the typical one (``repeatability`` and
   ``ratio_outliers``); the workloads measured under several tags, with the spread of the same tags on every
   setup, and that spread split into the part within one board and the part across boards;
6. the measuring cost per model and runtime (``gpu_seconds``, ``compile_time_s``), how much of it the model's MACs
   explain (a log-log least-squares fit), and what the panel's remaining pairs need as the sweep's deadline
   planner costs them;
7. the results whose stored scouting ladder the current batch search would have continued (as
   ``joulebench results --stale`` judges them, on the folder's bundle or ``h200.db``);
8. the results measured more than once (the report keeps the latest): the first and the latest value, and both
   runs at the first's optimal batch, which separates a changed search from run-to-run and card-to-card
   differences at one batch size.

Run from the repository root (CPU only, a few seconds)::

    python3 -m joulebench.analysis.dataset_report [--data data/h200/dataset] [--panel PANEL.txt]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from joulebench.analysis.dataset_tables import (
    boards_table,
    cost_table,
    repeats_table,
    same_workloads_table,
    stale_table,
    table,
)

OWN = ("H200:torch-fp32", "H200:compile-fp16")
PAPER = (("H100:torch-fp32", "H100:tensorrt-fp16"), ("A100:torch-fp32", "A100:tensorrt-fp16"))
DEFAULT_DATA = Path("data/h200/dataset")


def _reduction_row(name: str, red: Any) -> list[object]:
    q = red.quantiles
    return [
        name,
        red.n,
        f"{red.geomean:.2f}x",
        f"{red.gsd:.2f}",
        f"{q['p05']:.2f}x / {q['median']:.2f}x / {q['p95']:.2f}x",
        f"{100 * red.fraction_worse:.0f}%",
    ]


def progress_section(own: Any, panel: list[str], data: Path) -> str:
    """Configurations measured per own setup against the panel, and the failures by reason."""
    import pandas as pd

    rows = []
    for setup in OWN:
        n = int((own["setup"] == setup).sum())
        rows.append([setup, n, len(panel) or "?", f"{100 * n / len(panel):.0f}%" if panel else "?"])
    out = "## Progress\n\n" + table(["setup", "measured", "panel", "done"], rows)
    if (data / "summaries.csv").exists() and (data / "runs.csv").exists():
        out += "\n\n" + _provenance(pd.read_csv(data / "summaries.csv"), pd.read_csv(data / "runs.csv"))
    failures = data / "failures.csv"
    if failures.exists():
        f = pd.read_csv(failures)
        if len(f):
            g = f.groupby(["runtime", "stage", "reason"]).size().reset_index(name="n")
            out += "\n\nFailures by runtime, stage and reason:\n\n" + table(
                ["runtime", "stage", "reason", "n"], g.values.tolist()
            )
        else:
            out += "\n\nNo failures recorded."
    return out


def _provenance(summaries: Any, runs: Any) -> str:
    """Where and when the results were measured: GPU, boards, software versions and dates, from the exports."""

    def values(col: str) -> str:
        return ", ".join(sorted({str(v) for v in runs[col].dropna()})) if col in runs else "?"

    ok = summaries[summaries["status"] == "ok"]
    dates = ok["finished_at"].astype(str).str[:10]
    rows = [
        ["GPU", values("gpu_name")],
        ["boards (GPU UUIDs) with a result", ok["gpu_uuid"].nunique()],
        ["power limit (W)", values("power_limit_w")],
        ["driver / CUDA", f"{values('driver')} / {values('cuda')}"],
        ["torch / timm", f"{values('torch')} / {values('timm')}"],
        ["results finished", f"{dates.min()} to {dates.max()}" if len(dates) else "–"],
    ]
    return "Provenance (runs.csv, summaries.csv):\n\n" + table(["what", "value"], rows)


def reduction_section(energy: Any) -> tuple[str, Any, dict[str, Any]]:
    """The own runtime reduction beside the paper's, over all its models and over the own pairs.

    Returns:
        The section, the own :func:`~joulebench.analysis.effects.runtime_reduction` and the paper's, keyed on
        their baseline setup.
    """
    from joulebench.analysis.effects import runtime_reduction
    from joulebench.analysis.frames import paired_setups

    own = runtime_reduction(energy, *OWN)
    rows = [_reduction_row("H200 torch-fp32 -> compile-fp16", own)]
    paper = {}
    # The models with both own runtimes, so the paper's reduction is taken over exactly the own pairs.
    paired = set(zip(own.per_model["model"], own.per_model["img_size"], strict=True))
    sub = energy[energy.set_index(["model", "img_size"]).index.isin(list(paired))]
    for base, opt in PAPER:
        red = paper[base] = runtime_reduction(energy, base, opt)
        gpu = base.split(":")[0]
        rows.append(_reduction_row(f"{gpu} torch-fp32 -> tensorrt-fp16, all (paper)", red))
        if len(paired_setups(sub, base, opt)) >= 2:
            rows.append(
                _reduction_row(f"{gpu} torch-fp32 -> tensorrt-fp16, H200's models", runtime_reduction(sub, base, opt))
            )
    head = ["comparison", "models", "geometric mean", "GSD", "p05 / median / p95", "optimised worse"]
    title = "## Reduction from the baseline runtime to the optimised one (per model, baseline / optimised)\n\n"
    return title + table(head, rows), own, paper


def per_model_section(own: Any, h100: Any) -> str:
    """Per model: the own compile-fp16 reduction beside the H100's TensorRT one."""
    both = own.per_model.merge(h100.per_model, on=["model", "img_size"], suffixes=("", "_h100"))
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
    title = "## Per model: the H200's compile-fp16 reduction beside the H100's TensorRT one (mJ per image)\n\n"
    return title + table([*head, "H100 / H200 reduction"], rows)


def rank_section(energy: Any, setups: list[str]) -> str:
    """Rank agreement of per-model energy between each own setup and each reference one."""
    from joulebench.analysis.correlation import setup_correlations

    corr = setup_correlations(energy[energy["setup"].isin(setups)], setups, min_n=3)
    corr = corr[corr["setup_a"].isin(OWN) | corr["setup_b"].isin(OWN)]
    corr = corr[~(corr["setup_a"].isin(OWN) & corr["setup_b"].isin(OWN))]
    rows = [
        [r.setup_a, r.setup_b, r.n, f"{r.spearman:.3f}", f"{r.pearson_log:.3f}", f"{r.median_ratio_b_over_a:.2f}"]
        for r in corr.itertuples()
    ]
    head = ["setup A", "setup B", "models", "Spearman", "Pearson (log)", "median B/A energy"]
    return "## Rank agreement of per-model energy with the reference setups\n\n" + table(head, rows)


def frontier_section(energy: Any, accuracy: Any) -> str:
    """The ImageNet frontiers of the own compile-fp16 and the H100 TensorRT setups over the models both measured."""
    from joulebench.analysis.frames import energy_accuracy, paired_setups
    from joulebench.analysis.frontier import frontier

    both = paired_setups(energy, "H200:compile-fp16", "H100:tensorrt-fp16")[["model", "img_size"]]
    fronts = {}
    for setup in ("H200:compile-fp16", "H100:tensorrt-fp16"):
        front = frontier(energy_accuracy(energy, accuracy, setup).merge(both, on=["model", "img_size"]))
        fronts[setup] = set(zip(front["model"], front["img_size"], strict=True))
    a, b = fronts["H200:compile-fp16"], fronts["H100:tensorrt-fp16"]

    def names(keys: set[tuple[str, int]]) -> str:
        return ", ".join(f"{m}@{s}" for m, s in sorted(keys)) or "none"

    return "\n".join(
        [
            "## ImageNet frontier: H200 compile-fp16 vs H100 TensorRT FP16, over the models measured on both\n",
            f"- models on both setups (with ImageNet accuracy): {len(both)}",
            f"- on both frontiers ({len(a & b)}): {names(a & b)}",
            f"- only on the H200 frontier ({len(a - b)}): {names(a - b)}",
            f"- only on the H100 frontier ({len(b - a)}): {names(b - a)}",
        ]
    )


def consistency_section(energy: Any, catalogue: Any, setups: list[str], summaries: Any) -> str:
    """Repeated workloads on every setup, the own tags within and across boards, and ratio outliers."""
    from joulebench.analysis.consistency import repeatabilities, summary_table

    reps = repeatabilities(energy, None, catalogue)  # every setup with repeated workloads
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
    out = [
        "## Consistency: identical workloads under several tags, and ratio outliers between GPUs\n",
        table(head, rows),
    ]
    none = [s for s in setups if s not in set(rep["setup"])]
    if none:
        out.append(f"\nNo workload measured under two or more tags yet: {', '.join(none)}.")
    if same := same_workloads_table(energy, catalogue, setups, [r for r in reps if r.setup in OWN]):
        out.append(same)
    if boards := boards_table(summaries, catalogue):
        out.append(boards)
    out.append("\n" + _outliers(energy))
    return "\n".join(out)


def _outliers(energy: Any) -> str:
    """Ratio outliers between setups of one runtime, and those among the own models with the reading to blame."""
    from joulebench.analysis.consistency import ratio_outliers
    from joulebench.analysis.frames import paired_setups

    own = energy[energy["setup"].isin(OWN)]
    have = set(zip(own["model"], own["img_size"], strict=True))
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
    head = ["setups", "models", "median ratio", "below / 1.5", "above x 1.5", "off by power", "H200's models"]
    return table(head, rows) + "\n\nOutliers among the H200's models:\n\n" + ("\n".join(flagged) or "none")


def report(data: Path, panel_path: Path | None = None) -> str:
    """The whole report on the exports in ``data`` (and its ``panel.txt`` unless ``panel_path`` names another)."""
    import pandas as pd

    from joulebench.analysis.frames import dedupe_energy
    from joulebench.data import load_dataset

    ds = load_dataset(data=[data])
    energy = dedupe_energy(ds.energy)
    own = energy[energy["setup"].isin(OWN)]
    panel_path = panel_path or data / "panel.txt"
    panel = [s.strip() for s in panel_path.read_text().splitlines() if s.strip()] if panel_path.exists() else []
    # each table from the consistency section on reads these exports: once here, not once per table
    csv = {n: pd.read_csv(f) for n in ("summaries", "measurements", "failures") if (f := data / f"{n}.csv").exists()}
    reduction, own_reduction, paper = reduction_section(energy)
    setups = [*OWN, *(s for pair in PAPER for s in pair)]
    sections = [
        progress_section(own, panel, data),
        reduction,
        per_model_section(own_reduction, paper["H100:torch-fp32"]),
        rank_section(energy, setups),
        frontier_section(energy, ds.accuracy),
        consistency_section(energy, ds.catalogue, setups, csv["summaries"]),
        "## Cost per model: GPU-seconds a finished model held its GPU, and what the rest of the panel needs\n\n"
        + cost_table(csv["summaries"], panel, csv.get("failures")),
        "## Searches the current batch search would continue (measured under an older rule)\n\n"
        + stale_table(csv, data),
        "## Results measured more than once (the latest is kept)\n\n" + repeats_table(csv, data),
    ]
    return "\n\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    """Print the report; the command line is ``[--data DIR] [--panel FILE]``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with summaries.csv")
    p.add_argument("--panel", type=Path, default=None, help="panel file (tag@size per line); default DATA/panel.txt")
    args = p.parse_args(argv)
    print(report(args.data, args.panel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
