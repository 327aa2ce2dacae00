"""An own dataset (by default the H200 one) against the paper's H100 and A100 data, as markdown tables.

Reads the reference dataset and one folder of joulebench exports (``data/h200/dataset`` by default; only that
folder, so rows measured with a shortened protocol elsewhere stay out). The folder holds one GPU's results; its
setups (``H200:torch-fp32`` and ``H200:compile-fp16``, or ``H100-SXM:...`` for ``data/h100/dataset``) are the
own ones. The report prints:

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
   ``joulebench results --stale`` judges them, on the folder's bundle or its store, ``h200.db`` for the H200);
8. the results measured more than once (the report keeps the latest): the first and the latest value, and both
   runs at the first's optimal batch, which separates a changed search from run-to-run and card-to-card
   differences at one batch size.

Run from the repository root (CPU only, a few seconds)::

    python3 -m joulebench.analysis.dataset_report [--data data/h200/dataset] [--panel PANEL.txt]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
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

PAPER = (("H100:torch-fp32", "H100:tensorrt-fp16"), ("A100:torch-fp32", "A100:tensorrt-fp16"))
DEFAULT_DATA = Path("data/h200/dataset")


@dataclass(frozen=True)
class Own:
    """The GPU of the folder's results and its two setups.

    Attributes:
        gpu: Short GPU name of the own setups (``H200``, ``H100-SXM``).
    """

    gpu: str

    @property
    def setups(self) -> tuple[str, str]:
        """The baseline and the optimised setup: ``(GPU:torch-fp32, GPU:compile-fp16)``."""
        return (f"{self.gpu}:torch-fp32", f"{self.gpu}:compile-fp16")


def own_of(energy: Any, data: Path) -> Own:
    """The one GPU whose results (source ``joulebench``) ``energy`` holds.

    Raises:
        ConfigError: If the folder holds no own result, or results of several GPUs.
    """
    from joulebench.data.dataset import OWN_SOURCE
    from joulebench.errors import ConfigError

    gpus = sorted(set(energy.loc[energy["source"] == OWN_SOURCE, "gpu"].dropna()))
    if len(gpus) != 1:
        held = ", ".join(gpus) or "none"
        raise ConfigError(f"{data}: the report reads one GPU's results, the folder holds {held}; pass --data DIR")
    return Own(gpus[0])


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


def progress_section(own: Any, panel: list[str], data: Path, mine: Own) -> str:
    """Configurations measured per own setup against the panel, and the failures by reason."""
    import pandas as pd

    rows = []
    for setup in mine.setups:
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


def reduction_section(energy: Any, mine: Own) -> tuple[str, Any, dict[str, Any]]:
    """The own runtime reduction beside the paper's, over all its models and over the own pairs.

    A single own pair gets its factor alone (no spread). Returns:
        The section, the own pairs (``model, img_size, energy_a, energy_b, factor``) and the paper's
        :func:`~joulebench.analysis.effects.runtime_reduction`, keyed on their baseline setup.
    """
    from joulebench.analysis.effects import runtime_reduction
    from joulebench.analysis.frames import paired_setups

    name = f"{mine.gpu} torch-fp32 -> compile-fp16"
    pairs = paired_setups(energy, *mine.setups)
    pairs["factor"] = pairs["energy_a"] / pairs["energy_b"]
    if len(pairs) >= 2:
        rows = [_reduction_row(name, runtime_reduction(energy, *mine.setups))]
    else:
        one = f"{pairs['factor'].iloc[0]:.2f}x" if len(pairs) else "–"
        rows = [[name, len(pairs), one, "–", "–", f"{100 * (pairs['factor'] < 1).mean():.0f}%" if len(pairs) else "–"]]
    paper = {}
    # The models with both own runtimes, so the paper's reduction is taken over exactly the own pairs.
    paired = set(zip(pairs["model"], pairs["img_size"], strict=True))
    sub = energy[energy.set_index(["model", "img_size"]).index.isin(list(paired))]
    for base, opt in PAPER:
        red = paper[base] = runtime_reduction(energy, base, opt)
        gpu = base.split(":")[0]
        rows.append(_reduction_row(f"{gpu} torch-fp32 -> tensorrt-fp16, all (paper)", red))
        if len(paired_setups(sub, base, opt)) >= 2:
            rows.append(
                _reduction_row(
                    f"{gpu} torch-fp32 -> tensorrt-fp16, {mine.gpu}'s models", runtime_reduction(sub, base, opt)
                )
            )
    head = ["comparison", "models", "geometric mean", "GSD", "p05 / median / p95", "optimised worse"]
    title = "## Reduction from the baseline runtime to the optimised one (per model, baseline / optimised)\n\n"
    return title + table(head, rows), pairs, paper


def per_model_section(own: Any, h100: Any, mine: Own) -> str:
    """Per model: the own compile-fp16 reduction (``own``: its pairs) beside the H100's TensorRT one."""
    both = own.merge(h100.per_model, on=["model", "img_size"], suffixes=("", "_h100"))
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
    g = mine.gpu
    head = ["model", f"{g} fp32", f"{g} compile", f"{g} reduction", "H100 fp32", "H100 TensorRT", "H100 reduction"]
    title = f"## Per model: the {g}'s compile-fp16 reduction beside the H100's TensorRT one (mJ per image)\n\n"
    return title + table([*head, f"H100 / {g} reduction"], rows)


def rank_section(energy: Any, setups: list[str], mine: Own) -> str:
    """Rank agreement of per-model energy between each own setup and each reference one."""
    from joulebench.analysis.correlation import setup_correlations

    corr = setup_correlations(energy[energy["setup"].isin(setups)], setups, min_n=3)
    own = mine.setups
    corr = corr[corr["setup_a"].isin(own) | corr["setup_b"].isin(own)]
    corr = corr[~(corr["setup_a"].isin(own) & corr["setup_b"].isin(own))]
    corr = corr[corr["spearman"].notna()]  # fewer than 3 common models: nothing to rank
    rows = [
        [r.setup_a, r.setup_b, r.n, f"{r.spearman:.3f}", f"{r.pearson_log:.3f}", f"{r.median_ratio_b_over_a:.2f}"]
        for r in corr.itertuples()
    ]
    head = ["setup A", "setup B", "models", "Spearman", "Pearson (log)", "median B/A energy"]
    return "## Rank agreement of per-model energy with the reference setups\n\n" + table(head, rows)


def frontier_section(energy: Any, accuracy: Any, mine: Own) -> str:
    """The ImageNet frontiers of the own compile-fp16 and the H100 TensorRT setups over the models both measured."""
    from joulebench.analysis.frames import energy_accuracy, paired_setups
    from joulebench.analysis.frontier import frontier

    compiled = mine.setups[1]
    both = paired_setups(energy, compiled, "H100:tensorrt-fp16")[["model", "img_size"]]
    fronts = {}
    for setup in (compiled, "H100:tensorrt-fp16"):
        front = frontier(energy_accuracy(energy, accuracy, setup).merge(both, on=["model", "img_size"]))
        fronts[setup] = set(zip(front["model"], front["img_size"], strict=True))
    a, b = fronts[compiled], fronts["H100:tensorrt-fp16"]

    def names(keys: set[tuple[str, int]]) -> str:
        return ", ".join(f"{m}@{s}" for m, s in sorted(keys)) or "none"

    return "\n".join(
        [
            f"## ImageNet frontier: {mine.gpu} compile-fp16 vs H100 TensorRT FP16, over the models measured on both\n",
            f"- models on both setups (with ImageNet accuracy): {len(both)}",
            f"- on both frontiers ({len(a & b)}): {names(a & b)}",
            f"- only on the {mine.gpu} frontier ({len(a - b)}): {names(a - b)}",
            f"- only on the H100 frontier ({len(b - a)}): {names(b - a)}",
        ]
    )


def consistency_section(energy: Any, catalogue: Any, setups: list[str], summaries: Any, mine: Own) -> str:
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
    if same := same_workloads_table(energy, catalogue, setups, [r for r in reps if r.setup in mine.setups], mine.gpu):
        out.append(same)
    if boards := boards_table(summaries, catalogue, mine.gpu):
        out.append(boards)
    out.append("\n" + _outliers(energy, mine))
    return "\n".join(out)


def _outliers(energy: Any, mine: Own) -> str:
    """Ratio outliers between setups of one runtime, and those among the own models with the reading to blame."""
    from joulebench.analysis.consistency import ratio_outliers
    from joulebench.analysis.frames import paired_setups

    own = energy[energy["setup"].isin(mine.setups)]
    have = set(zip(own["model"], own["img_size"], strict=True))
    pairs = [
        ("H100:torch-fp32", "A100:torch-fp32"),
        ("H100:tensorrt-fp16", "A100:tensorrt-fp16"),
        (mine.setups[0], "A100:torch-fp32"),
        (mine.setups[0], "H100:torch-fp32"),
    ]
    rows, flagged = [], []
    for setup, ref in pairs:
        if len(paired_setups(energy, setup, ref)) < 3:
            continue
        o = ratio_outliers(energy, setup, ref)
        ours = o.outliers[o.outliers.set_index(["model", "img_size"]).index.isin(list(have))]
        rows.append([f"{setup} / {ref}", o.n, f"{o.median_ratio:.3f}", o.low, o.high, o.blamed, len(ours)])
        names = {"setup": setup, "reference": ref}
        flagged += [
            f"- {setup} / {ref}: {r.model}@{r.img_size} {r.energy_j * 1e3:.2f} / {r.reference_energy_j * 1e3:.2f} mJ"
            f" = {r.ratio:.2f} ({r.off_by:.2f}x the median); implied power {100 * r.power_fraction:.0f} % / "
            f"{100 * r.reference_power_fraction:.0f} % of the limits ({r.power_off_by:.2f}x the median ratio): "
            + (f"the {names[r.blame]} reading is off" if r.blame else "a difference of speed")
            for r in ours.itertuples()
        ]
    head = ["setups", "models", "median ratio", "below / 1.5", "above x 1.5", "off by power", f"{mine.gpu}'s models"]
    return table(head, rows) + f"\n\nOutliers among the {mine.gpu}'s models:\n\n" + ("\n".join(flagged) or "none")


def report(data: Path, panel_path: Path | None = None) -> str:
    """The whole report on the exports in ``data`` (and its ``panel.txt`` unless ``panel_path`` names another)."""
    import pandas as pd

    from joulebench.analysis.frames import dedupe_energy
    from joulebench.data import load_dataset

    ds = load_dataset(data=[data])
    energy = dedupe_energy(ds.energy)
    mine = own_of(energy, data)
    own = energy[energy["setup"].isin(mine.setups)]
    panel_path = panel_path or data / "panel.txt"
    panel = [s.strip() for s in panel_path.read_text().splitlines() if s.strip()] if panel_path.exists() else []
    # each table from the consistency section on reads these exports: once here, not once per table
    csv = {n: pd.read_csv(f) for n in ("summaries", "measurements", "failures") if (f := data / f"{n}.csv").exists()}
    reduction, own_pairs, paper = reduction_section(energy, mine)
    setups = [*mine.setups, *(s for pair in PAPER for s in pair)]
    sections = [
        progress_section(own, panel, data, mine),
        reduction,
        per_model_section(own_pairs, paper["H100:torch-fp32"], mine),
        rank_section(energy, setups, mine),
        frontier_section(energy, ds.accuracy, mine),
        consistency_section(energy, ds.catalogue, setups, csv["summaries"], mine),
        "## Cost per model: GPU-seconds a finished model held its GPU, and what the rest of the panel needs\n\n"
        + cost_table(csv["summaries"], panel, csv.get("failures")),
        "## Searches the current batch search would continue (measured under an older rule)\n\n"
        + stale_table(csv, data, mine.gpu),
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
