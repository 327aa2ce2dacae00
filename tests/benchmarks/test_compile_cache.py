"""benchmarks/compile_cache.py: a compiled sweep measured cold, then again on the inductor cache it filled."""

from __future__ import annotations

import csv
from pathlib import Path

from benchmark_script import load_benchmark


def _script():
    return load_benchmark("compile_cache")


class _FakeMeasure:
    """Stands in for ``joulebench measure``: records each call's cache folder and what it found there."""

    def __init__(self, gpu_seconds: list[float], batches: list[int], energies: list[float]):
        self.calls: list[tuple[Path, bool]] = []
        self.results = list(zip(gpu_seconds, batches, energies, strict=True))

    def __call__(self, model, runtime, db, cache, extra):
        self.calls.append((cache, cache.exists() and any(cache.iterdir())))
        cache.mkdir(parents=True, exist_ok=True)
        (cache / f"entry-{len(self.calls)}").write_text("compiled")
        s, b, e = self.results[len(self.calls) - 1]
        return {"model": model, "runtime": runtime, "status": "ok", "batch": b, "energy_per_image_j": e,
                "ci95_rel": 0.01, "gpu_seconds": s, "prepare_s": s / 2, "windows": 10, "wall_s": s}  # fmt: skip


def test_runs_share_one_cache_that_is_emptied_before_the_cold_run(tmp_path, monkeypatch):
    cc = _script()
    stale = tmp_path / "inductor" / "m.a-compile-fp16"
    stale.mkdir(parents=True)
    (stale / "left-by-an-earlier-call").write_text("x")
    fake = _FakeMeasure([120, 40, 41], [128, 128, 128], [0.011, 0.011, 0.011])
    monkeypatch.setattr(cc, "measure_once", fake)
    rows = list(cc.run_model("m.a", "compile-fp16", 3, tmp_path, []))
    assert [r["cache"] for r in rows] == ["cold", "warm", "warm"]
    assert len({c for c, _ in fake.calls}) == 1  # one folder for all runs
    assert [found for _, found in fake.calls] == [False, True, True]  # cold first, then what it left


def test_the_table_compares_warm_runs_with_the_cold_one(tmp_path, monkeypatch, capsys):
    cc = _script()
    monkeypatch.setattr(cc, "measure_once", _FakeMeasure([120, 60], [128, 256], [0.0110, 0.0112]))
    out_csv = tmp_path / "runs.csv"
    assert cc.main(["m.a", "--runs", "2", "--work", str(tmp_path / "w"), "--csv", str(out_csv), "--", "--x"]) == 0
    out = capsys.readouterr().out
    assert "warm / cold m.a compile-fp16: GPU-s x0.50-0.50, another batch, energy +1.8 to +1.8 %" in out
    rows = list(csv.DictReader(out_csv.open()))
    assert [(r["run"], r["cache"], r["batch"]) for r in rows] == [("1", "cold", "128"), ("2", "warm", "256")]


def test_flags_after_the_separator_go_to_measure(tmp_path, monkeypatch):
    cc = _script()
    seen: list[list[str]] = []

    def fake(model, runtime, db, cache, extra):
        seen.append(extra)
        return {"model": model, "runtime": runtime, "status": "error: no GPU"}

    monkeypatch.setattr(cc, "measure_once", fake)
    rc = cc.main(["m.a", "--meter", "sim", "--work", str(tmp_path), "--csv", str(tmp_path / "r.csv"), "--",
                  "--max-batch", "8"])  # fmt: skip
    assert rc == 1  # a failed run fails the benchmark
    assert seen == [["--meter", "sim", "--max-batch", "8"]] * 2


def test_report_prints_the_same_table_from_the_csv(tmp_path, monkeypatch, capsys):
    cc = _script()
    monkeypatch.setattr(cc, "measure_once", _FakeMeasure([150, 90], [2048, 1024], [0.01114, 0.01113]))
    out_csv = tmp_path / "runs.csv"
    assert cc.main(["m.a", "--runs", "2", "--work", str(tmp_path / "w"), "--csv", str(out_csv)]) == 0
    measured = capsys.readouterr().out
    assert cc.main(["--report", str(out_csv)]) == 0
    assert capsys.readouterr().out == measured
    assert "GPU-s x0.60-0.60, another batch" in measured
