"""benchmarks/search_cost.py: rounds alternate the order, so a linear drift of the card cancels in the means."""

from __future__ import annotations

import json
import sys

import pytest

from benchmark_script import load_benchmark


@pytest.fixture
def script(monkeypatch):
    mod = load_benchmark("search_cost")
    calls: list[tuple[str, int]] = []

    def fake_sweep(a, search, rnd, db, tmp):
        # The card heats up: every run reads 1% more energy than the one before, whatever the search.
        # Paper costs 100 GPU-s, plateau 18.
        k = len(calls)
        calls.append((search, rnd))
        run = {
            "round": rnd,
            "status": "ok",
            "error": None,
            "gpu_seconds": 100.0 if search == "paper" else 18.0,
            "energy_per_image_j": 0.080 * (1 + 0.01 * k),
            "dynamic_energy_per_image_j": 0.070,
            "optimal_batch": 128,
            "idle_power_w": 80.0 + k,
            "temperature_at_optimum_c": 50.0 + k,
            "batches_measured": 5,
            "attempts": 5,
            "window_seconds": 50.0,
        }
        return {"resnet50.a1_in1k@224 torch-fp32": run}

    monkeypatch.setattr(mod, "_sweep", fake_sweep)
    return mod, calls


def _run(mod, monkeypatch, tmp_path, *args):
    monkeypatch.setenv("OUT", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["search_cost.py", "resnet50.a1_in1k", "--runtime", "torch-fp32", *args])
    assert mod.main() == 0
    return json.loads((tmp_path / "search_cost.json").read_text())


def test_two_rounds_alternate_and_cancel_a_linear_drift(script, monkeypatch, tmp_path, capsys):
    mod, calls = script
    out = _run(mod, monkeypatch, tmp_path)
    assert calls == [("paper", 0), ("plateau", 0), ("plateau", 1), ("paper", 1)]
    assert out["order"] == ["paper", "plateau", "plateau", "paper"]
    (row,) = out["rows"]
    assert [r["round"] for r in row["paper"]["runs"]] == [0, 1]
    assert row["gpu_seconds_ratio"] == pytest.approx(0.18)
    assert row["energy_rel_diff"] == pytest.approx(0.0, abs=1e-12)  # (1.00 + 1.03) / 2 == (1.01 + 1.02) / 2
    text = capsys.readouterr().out
    assert "ratio 0.180; target <= 0.20" in text and "worst |dE| 0.00%" in text


def test_one_round_keeps_the_drift_it_cannot_cancel(script, monkeypatch, tmp_path):
    mod, calls = script
    out = _run(mod, monkeypatch, tmp_path, "--rounds", "1")
    assert calls == [("paper", 0), ("plateau", 0)]
    assert out["rows"][0]["energy_rel_diff"] == pytest.approx(0.01)


def test_rounds_below_one_are_refused(script, monkeypatch, tmp_path):
    mod, _ = script
    monkeypatch.setattr(sys, "argv", ["search_cost.py", "m", "--runtime", "torch-fp32", "--rounds", "0"])
    with pytest.raises(SystemExit) as e:
        mod.main()
    assert e.value.code == 2
