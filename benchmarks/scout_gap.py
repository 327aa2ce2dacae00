"""How far a full window reads from the scouting window of the same batch, per runtime, in stored sweeps.

The batch search ranks batches by their scouting windows and confirms the best ones with full windows. A gap
common to every batch of a model does the ranking no harm; one that varies between a model's batches can reorder
them. Compiled runtimes scout on one dynamic-batch program and measure finalists on a static one, so their gap is
the two programs' difference as well as the card's warming. For each runtime this prints the gap's quantiles over
every (run, model, batch) measured both ways, and the spread of the gap within one sweep (largest minus smallest
over the batches it measured both ways).

Reads a dataset bundle's ``measurements.csv`` (``joulebench export --bundle``), whose ``trace_summary`` holds each
window's phase. CPU only::

    python3 benchmarks/scout_gap.py data/h200/dataset
    python3 benchmarks/scout_gap.py data/h100/dataset
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

csv.field_size_limit(1 << 24)  # trace summaries are long


def gaps(measurements: Path) -> dict[str, dict[str, list[float]]]:
    """Per runtime and sweep (run and model), ``full / scout - 1`` of each batch the sweep measured both ways."""
    scout: dict[tuple[str, str, str, str], float] = {}
    full: dict[tuple[str, str, str, str], float] = {}
    with measurements.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["status"] != "ok" or not row["energy_per_image_j"]:
                continue
            phase = json.loads(row["trace_summary"] or "{}").get("phase")
            key = (row["runtime"], row["run_id"], f"{row['model']}@{row['img_size']}", row["batch_size"])
            # the first reading of each kind: a later one of the same batch belongs to another pass
            (scout if phase == "scout" else full).setdefault(key, float(row["energy_per_image_j"]))
    out: dict[str, dict[str, list[float]]] = {}
    for key, e in full.items():
        if key in scout:
            runtime, run, model, _ = key
            out.setdefault(runtime, {}).setdefault(f"{model} {run}", []).append(e / scout[key] - 1.0)
    return out


def _quantiles(xs: list[float]) -> str:
    if len(xs) < 2:
        return " ".join(f"{100 * x:+.1f}" for x in xs)
    q = statistics.quantiles(xs, n=20, method="inclusive")  # 5 % steps: q[0] is p5, q[18] p95
    return " ".join(f"{100 * v:+.1f}" for v in (q[0], q[4], statistics.median(xs), q[14], q[18]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundles", nargs="+", help="dataset bundle folders (with measurements.csv)")
    a = p.parse_args(argv)
    for bundle in a.bundles:
        by = gaps(Path(bundle) / "measurements.csv")
        for runtime in sorted(by):
            sweeps = by[runtime]
            allg = [g for v in sweeps.values() for g in v]
            within = [max(v) - min(v) for v in sweeps.values() if len(v) > 1]
            line = f"{bundle} {runtime}: {len(allg)} batches of {len(sweeps)} sweeps, full vs scout %"
            line += f" p5 p25 p50 p75 p95 {_quantiles(allg)}"
            if within:
                line += (
                    f"; within a sweep (max - min, {len(within)} sweeps): median {100 * statistics.median(within):.1f}"
                    f" %, max {100 * max(within):.1f} %"
                )
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
