"""benchmarks/quick_measure.py: "first" runs each start from an empty cache, "again" runs share one filled before."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "quick_measure.py"


@pytest.fixture
def script(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    return importlib.import_module("quick_measure")


def test_first_runs_get_an_empty_cache_each_and_runs_again_the_one_filled_before(script, monkeypatch, tmp_path, capsys):
    calls: list[tuple[Path, bool]] = []

    def fake_measure(model, runtime, cache):
        calls.append((cache, any(cache.iterdir())))
        (cache / "timm-names-x.json").write_text("{}")  # what the command leaves there
        n = len(calls)
        return {
            "wall_s": float(n),
            "driver_s": n / 2,
            "worker_s": n / 2,
            "windows_s": 1.0,
            "warmup_s": 0.1,
            "other_s": 0.1,
            "batches": 9.0,
        }

    monkeypatch.setattr(script, "measure_once", fake_measure)
    monkeypatch.setattr(sys, "argv", ["quick_measure.py", "--repeat", "3"])
    monkeypatch.setenv("OUT", str(tmp_path))
    script.main()
    filling, first, again = calls[0], calls[1:4], calls[4:]
    assert not filling[1] and all(not filled for _, filled in first) and len({c for c, _ in first}) == 3
    assert all(c == filling[0] and filled for c, filled in again) and len(again) == 3
    out = capsys.readouterr().out.splitlines()
    assert out[2].split()[:4] == ["first", "3", "3.00", "2.00"]  # runs 2-4: median 3 s, min 2 s
    assert out[3].split()[:4] == ["again", "3", "6.00", "5.00"]
    assert out[4].startswith("load average first: before ") and out[5].startswith("load average again: before ")
    saved = json.loads((tmp_path / "quick_measure.json").read_text())
    assert [r["wall_s"] for r in saved["cases"]["again"]] == [5.0, 6.0, 7.0]


def test_a_runs_columns_add_up_its_stored_rows(script):
    rows = [
        {"duration_s": 0.5, "trace_summary": {"warmup_s": 0.1}},
        {"duration_s": 0.25, "trace_summary": json.dumps({"warmup_s": 0.2})},
        {"duration_s": None, "trace_summary": None},
    ]
    assert script.window_times(rows) == {"windows_s": 0.75, "warmup_s": pytest.approx(0.3), "batches": 3.0}
    t = script.timings(10.0, 8.0, rows)
    assert (t["wall_s"], t["driver_s"], t["worker_s"], t["other_s"]) == (
        10.0,
        2.0,
        8.0,
        pytest.approx(8.0 - 0.75 - 0.3),
    )
