"""Scores, thresholds, ranking, carbon/cost and configuration effects, computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from joulebench.analysis import carbon_cost
from joulebench.analysis.carbon import add_carbon_columns
from joulebench.analysis.effects import batch_curves, input_size_effect, runtime_reduction
from joulebench.analysis.scores import Thresholds, accuracy_per_joule, manhattan_score, rank
from joulebench.errors import ConfigError


def models():
    return pd.DataFrame(
        {
            "model": ["a", "b", "c", "d"],
            "img_size": 224,
            "precision": "fp16",
            "accuracy": [80.0, 90.0, 70.0, 85.0],
            "energy_per_image_j": [1.0, 2.0, 0.5, 4.0],
            "latency_s": [0.01, 0.02, 0.005, 0.2],
            "params": [10e6, 80e6, 5e6, 30e6],
        }
    )


def test_manhattan_by_hand():
    s = manhattan_score([1.0, 2.0], [80.0, 90.0], weight=0.3, max_energy_j=2.0)
    # 100 - (0.3*100*0.5 + 0.7*20) = 71 ; 100 - (0.3*100*1 + 0.7*10) = 63
    assert s == pytest.approx([71.0, 63.0])
    assert manhattan_score([0.0], [100.0], 0.7, 1.0)[0] == 100.0
    with pytest.raises(ConfigError, match="within"):
        manhattan_score([1.0], [50.0], 1.5, 1.0)


@settings(max_examples=200, deadline=None)
@given(
    w=st.floats(0, 1),
    e=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=20),
    a=st.floats(0, 100),
)
@example(w=0.875, e=[5e-324], a=0.0)  # a subnormal energy, scaled before it was divided, scored -0.5
def test_manhattan_within_bounds(w, e, a):
    n = max(e)
    if n <= 0:
        return
    s = manhattan_score(e, [a] * len(e), w, n)
    assert np.all(s >= -1e-9) and np.all(s <= 100 + 1e-9)


def test_rank_by_hand():
    r = rank(models(), "manhattan", weight=0.5)
    # N = 4: a: 100-(12.5+10)=77.5 ; b: 100-(25+5)=70 ; c: 100-(6.25+15)=78.75 ; d: 100-(50+7.5)=42.5
    assert r.table["model"].tolist() == ["c", "a", "b", "d"]
    assert r.table["score"].tolist() == pytest.approx([78.75, 77.5, 70.0, 42.5])
    assert r.max_energy_j == 4.0 and r.reason is None
    apj = rank(models(), "acc-per-joule")
    assert apj.table["model"].tolist() == ["c", "a", "b", "d"]
    assert apj.table["score"].iloc[0] == pytest.approx(140.0)
    assert accuracy_per_joule(2.0, 90.0) == pytest.approx(45.0)


def test_thresholds_and_n_of_the_compared_set():
    th = Thresholds(min_accuracy=75, max_latency_s=0.05, max_params=50e6)
    r = rank(models(), "manhattan", 0.5, th)
    assert r.table["model"].tolist() == ["a"]
    assert r.max_energy_j == 1.0  # N is taken over the models that pass
    assert [f["removed"] for f in r.filtered] == [1, 1, 1]
    mem = rank(models(), thresholds=Thresholds(max_memory_b=100e6))  # fp16 weights: 2 bytes per parameter
    assert set(mem.table["model"]) == {"a", "c", "d"}


def test_thresholds_excluding_everything_say_why():
    r = rank(models(), thresholds=Thresholds(min_accuracy=75, max_energy_j=0.1))
    assert r.table.empty
    assert (
        r.reason == "no model passes the thresholds: min accuracy 75% removed 1 of 4; max energy 0.1 J removed 3 of 3"
    )
    assert r.candidates == 4


def test_missing_column_threshold_removes_all_and_says_so():
    r = rank(models().drop(columns="latency_s"), thresholds=Thresholds(max_latency_s=1))
    assert r.table.empty and "max latency 1 s removed 4 of 4" in r.reason


def test_unknown_score():
    with pytest.raises(ConfigError, match="manhattan, acc-per-joule"):
        rank(models(), "best")


def test_carbon_cost_by_hand():
    c = carbon_cost(0.036, 400, 0.30)  # 36 kJ per million images = 0.01 kWh
    assert c["kwh"] == pytest.approx(0.01)
    assert c["kg_co2e"] == pytest.approx(0.004)
    assert c["cost"] == pytest.approx(0.003)
    assert carbon_cost(0.036)["kg_co2e"] is None
    with pytest.raises(ConfigError):
        carbon_cost(0.036, -1, 0.3)
    t = add_carbon_columns(models(), 400, 0.3)
    assert t.loc[0, "kg_co2e_per_million"] == pytest.approx(1.0 * 1e6 / 3.6e6 * 0.4)


def test_runtime_reduction_geomean_and_gsd():
    e = pd.DataFrame(
        {
            "model": ["a", "b", "a", "b", "c"],
            "img_size": 224,
            "setup": ["G:base", "G:base", "G:opt", "G:opt", "G:opt"],
            "energy_per_image_j": [2.0, 8.0, 1.0, 1.0, 1.0],
        }
    )
    r = runtime_reduction(e, "G:base", "G:opt")
    assert r.n == 2
    assert r.geomean == pytest.approx(4.0)  # sqrt(2 * 8)
    assert r.gsd == pytest.approx(math.exp(np.std(np.log([2.0, 8.0]), ddof=1)))
    assert r.fraction_worse == 0.0
    assert r.to_dict()["mean_saving"] == pytest.approx(0.75)
    with pytest.raises(ConfigError, match="Available setups: G:base, G:opt"):
        runtime_reduction(e, "G:base", "G:fast")


def test_input_size_exponent():
    sizes = [160, 224, 288]
    e = pd.DataFrame(
        {
            "model": ["net.a"] * 3 + ["other.b"],
            "img_size": sizes + [224],
            "setup": "G:x",
            "energy_per_image_j": [(s / 224) ** 2 * 0.01 for s in sizes] + [1.0],
        }
    )
    r = input_size_effect(e)
    assert len(r) == 1 and r.iloc[0]["arch"] == "net"
    assert r.iloc[0]["exponent"] == pytest.approx(1.0)
    assert r.iloc[0]["energy_ratio"] == pytest.approx(r.iloc[0]["pixel_ratio"])


def test_batch_curves_mark_optimum_and_skip_failures():
    m = pd.DataFrame(
        {
            "model": "net",
            "img_size": 224,
            "runtime": "torch-fp16",
            "precision": "fp16",
            "gpu_name": "H200",
            "batch_size": [1, 8, 64, 64, 512],
            "status": ["ok", "ok", "ok", "ok", "oom"],
            "energy_per_image_j": [1.0, 0.3, 0.2, 0.3, None],
            "throughput_ips": [10.0, 80.0, 300.0, 300.0, None],
            "latency_mean_s": [0.1, 0.1, 0.2, 0.2, None],
            "avg_power_w": [100.0, 200.0, 600.0, 600.0, None],
            "power_limit_w": 700.0,
        }
    )
    c = batch_curves(m)
    assert c["batch_size"].tolist() == [1, 8, 64]
    assert c.loc[c["batch_size"] == 64, "energy_per_image_j"].item() == pytest.approx(0.25)  # windows averaged
    assert c["optimal"].tolist() == [False, False, True]
