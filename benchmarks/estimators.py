"""Energy estimators against measurements: naive, throughput, log-linear and boosted (grouped k-fold CV), transfer.

Prints one table per setup and writes JSON to $OUT/estimators.json when $OUT is set.

    PYTHONPATH=src python3 benchmarks/estimators.py [--setup S ...] [--folds 5] [--stats-csv PATH]

``--stats-csv`` takes params/MACs/activations from a CSV with the reference ``model_stats.csv`` columns
(``model_name, input_size_csv, params_tinfo, macs_ptflops, activations``) where the dataset view has none,
e.g. ``--stats-csv ../shared/reference/paper-2025/model_stats.csv`` (read in place, never copied).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd

from joulebench.analysis.estimators import cross_validate, naive_errors, throughput_errors, transfer_curve
from joulebench.analysis.frames import attach, dedupe_energy, drop_test_models, setups_of, static_facts
from joulebench.data import load_dataset


def external_stats(path: str) -> pd.DataFrame:
    s = pd.read_csv(path)
    return pd.DataFrame(
        {
            "model": s["model_name"],
            "img_size": s["input_size_csv"],
            "params": s["params_tinfo"],
            "macs": s["macs_ptflops"],
            "activations": s["activations"],
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setup", action="append", default=[])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--stats-csv")
    ap.add_argument("--db")
    args = ap.parse_args()
    ds = load_dataset(db=args.db)
    energy = drop_test_models(ds.energy)
    facts = static_facts(ds.catalogue, ds.stats)
    if args.stats_csv:
        facts = static_facts(facts, external_stats(args.stats_csv))
    setups = args.setup or setups_of(energy)
    out = {"stats_csv": args.stats_csv, "folds": args.folds, "setups": {}}
    print(f"{'setup':22} {'n':>5} {'naive x':>8} {'thr MAPE':>9} {'loglin MAPE':>12} {'boost MAPE':>11} {'s':>5}")
    for s in setups:
        t0 = time.perf_counter()
        d = attach(dedupe_energy(energy[energy["setup"] == s]), facts)
        _, naive = naive_errors(d)
        thr = throughput_errors(d)
        cv = cross_validate(d, k=args.folds).set_index("estimator")
        dt = time.perf_counter() - t0
        out["setups"][s] = {"naive": naive, "throughput": thr, "cv": cv.reset_index().to_dict("records")}
        print(
            f"{s:22} {int(cv.loc['log-linear', 'n']):5d} {naive['geomean']:8.2f} {thr['mape']:9.1f} "
            f"{cv.loc['log-linear', 'mape']:12.1f} {cv.loc['boosted-static', 'mape']:11.1f} {dt:5.1f}"
        )
    curves = []
    for i, a in enumerate(setups):
        for b in setups[i + 1 :]:
            curves.append(transfer_curve(energy, a, b, ks=(1, 5, 20)))
    if curves:
        tc = pd.concat(curves, ignore_index=True)
        print("\ntransfer: median MAPE (%) over 50 draws of k shared models")
        print(tc.pivot_table(index=["setup_a", "setup_b"], columns="k", values="mape_median").round(1).to_string())
        out["transfer"] = tc.to_dict("records")
    if os.environ.get("OUT"):
        p = Path(os.environ["OUT"]) / "estimators.json"
        p.write_text(json.dumps(out, indent=2, default=float))
        print(f"\nwrote {p}")


if __name__ == "__main__":
    main()
