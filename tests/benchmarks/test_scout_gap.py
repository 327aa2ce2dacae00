"""benchmarks/scout_gap.py: how far full windows read from the scouts of the same batch, per runtime."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[2]


def _script():
    return load_benchmark("scout_gap")


def _bundle(tmp_path: Path, rows: list[tuple[str, str, int, str, float]]) -> Path:
    fields = ["run_id", "model", "img_size", "runtime", "batch_size", "status", "energy_per_image_j", "trace_summary"]
    with (tmp_path / "measurements.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        for run, runtime, batch, phase, e in rows:
            w.writerow(
                {"run_id": run, "model": "m", "img_size": 224, "runtime": runtime, "batch_size": batch, "status": "ok",
                 "energy_per_image_j": e, "trace_summary": json.dumps({"phase": phase})}
            )  # fmt: skip
    return tmp_path


def test_gaps_pair_each_full_window_with_the_scout_of_its_run_and_batch(tmp_path, capsys):
    bundle = _bundle(
        tmp_path,
        [
            ("r1", "compile-fp16", 64, "scout", 0.10),
            ("r1", "compile-fp16", 64, "full", 0.09),
            ("r1", "compile-fp16", 256, "scout", 0.10),
            ("r1", "compile-fp16", 256, "full", 0.102),
            ("r1", "compile-fp16", 512, "full", 0.5),  # no scout of this batch: no pair
            ("r2", "torch-fp32", 64, "full", 0.2),  # another run's scout does not pair with it
            ("r3", "torch-fp32", 64, "scout", 0.1),
        ],
    )
    g = _script().gaps(bundle / "measurements.csv")
    assert list(g) == ["compile-fp16"]
    [(sweep, v)] = g["compile-fp16"].items()
    assert sweep == "m@224 r1" and [round(x, 6) for x in v] == [-0.1, 0.02]
    assert _script().main([str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "compile-fp16: 2 batches of 1 sweeps" in out and "median 12.0 %, max 12.0 %" in out


def test_the_h200_dataset_shows_the_compiled_scouts_gap(capsys):
    assert _script().main([str(ROOT / "data" / "h200" / "dataset")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("compile-fp16: 175 batches of 169 sweeps, full vs scout % p5 p25 p50 p75 p95 "
               "-12.8 -7.4 -3.0 -0.8 +1.4" in line for line in lines)  # fmt: skip
    assert any("torch-fp32: 191 batches of 175 sweeps, full vs scout % p5 p25 p50 p75 p95 "
               "-0.8 +0.2 +0.5 +1.3 +3.7" in line for line in lines)  # fmt: skip
