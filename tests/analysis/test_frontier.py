"""Frontier, clusters, nested-log fit, robustness and correlations on hand-made data with known answers."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joulebench.analysis.correlation import setup_correlations
from joulebench.analysis.fits import FrontierFit, fit_frontier, nested_log
from joulebench.analysis.frames import energy_accuracy
from joulebench.analysis.frontier import (
    distance_to_frontier,
    frontier,
    frontier_families,
    pareto_mask,
    type_centroids,
)
from joulebench.analysis.robustness import drop_by, frontier_stability, robustness_frame
from joulebench.errors import ConfigError, MissingDependencyError


def frame(points, types=None, families=None):
    d = pd.DataFrame(points, columns=["energy_per_image_j", "accuracy"])
    d["model"] = [f"m{i}" for i in range(len(d))]
    d["img_size"] = 224
    if types is not None:
        d["type"] = types
    if families is not None:
        d["family"] = families
    return d


def test_frontier_by_hand():
    d = frame([(1, 70), (2, 65), (2, 75), (3, 80), (4, 78), (5, 80), (6, 85)])
    f = frontier(d)
    assert list(zip(f["energy_per_image_j"], f["accuracy"], strict=True)) == [(1, 70), (2, 75), (3, 80), (6, 85)]
    # (5, 80) ties the accuracy of the cheaper (3, 80): not efficient
    assert not pareto_mask(np.array([3.0, 5.0]), np.array([80.0, 80.0]))[1]


def test_distance_to_frontier_by_hand():
    d = frame([(1, 70), (2, 75), (4, 72), (0.5, 10)])
    f = frontier(d)
    gap = distance_to_frontier(d, f)
    assert gap.tolist() == [0.0, 0.0, 3.0, 0.0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(1e-4, 1e3, allow_nan=False), st.floats(0, 100, allow_nan=False)), min_size=1, max_size=60
    )
)
@pytest.mark.slow
def test_frontier_is_monotone_and_dominates(points):
    d = frame(points)
    f = frontier(d)
    assert len(f) >= 1
    assert np.all(np.diff(f["energy_per_image_j"]) > 0)
    assert np.all(np.diff(f["accuracy"]) > 0)
    # every point is matched or beaten by a frontier point that costs no more
    for e, a in points:
        ok = f[f["energy_per_image_j"] <= e]
        assert len(ok) and ok["accuracy"].max() >= a


def test_type_centroids_geometric_energy():
    d = frame([(1, 70), (100, 80), (10, 60), (10, 64)], types=["CNN", "CNN", "MLP", "MLP"])
    c = type_centroids(d).set_index("type")
    assert c.loc["CNN", "centre_energy_j"] == pytest.approx(10.0)
    assert c.loc["CNN", "centre_accuracy"] == pytest.approx(75.0)
    assert c.loc["MLP", "centre_accuracy"] == pytest.approx(62.0)
    assert c.loc["MLP", "n"] == 2


def test_frontier_families():
    d = frame([(1, 70), (2, 75), (3, 80), (4, 60)], families=["a", "a", "b", "b"])
    fam = frontier_families(frontier(d))
    assert fam.iloc[0]["family"] == "a" and fam.iloc[0]["n"] == 2
    assert set(fam["family"]) == {"a", "b"}


def test_fit_recovers_known_parameters():
    a, b, c, e_min = 60.0, 8.0, 5.0, 0.002
    e = np.geomspace(e_min, 2.0, 25)
    d = frame(list(zip(e, nested_log(e, a, b, c, e_min), strict=True)))
    fit = fit_frontier(d)
    assert (fit.a, fit.b, fit.c) == pytest.approx((a, b, c), rel=1e-3)
    assert fit.r2 == pytest.approx(1.0)
    for t in (65.0, 75.0, 85.0):
        p = fit.energy_for(t)
        assert float(fit.predict(p.energy_per_image_j)) == pytest.approx(t, abs=1e-6)
        assert not p.extrapolated


def test_fit_inverse_edges():
    fit = FrontierFit(a=60, b=8, c=5, e_min=0.002, e_max=2.0, acc_max=85, n=10, r2=1, rmse=0)
    assert fit.energy_for(50).energy_per_image_j == 0.002  # cheapest frontier model already does it
    p = fit.energy_for(86)
    assert p.extrapolated and "extrapolated" in p.message
    with pytest.raises(ConfigError, match="beyond the fitted curve"):
        fit.energy_for(99.9)
    with pytest.raises(ConfigError, match="outside"):
        fit.energy_for(100)


def test_fit_needs_enough_points():
    with pytest.raises(ConfigError, match="at least 4 models"):
        fit_frontier(frame([(1, 70), (2, 75), (3, 80)]))


def test_fit_and_correlations_without_scipy_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    e = np.geomspace(0.002, 2.0, 8)
    with pytest.raises(MissingDependencyError, match=r"pip install 'joulebench\[analysis\]'"):
        fit_frontier(frame(list(zip(e, nested_log(e, 60.0, 8.0, 5.0, 0.002), strict=True))))
    with pytest.raises(MissingDependencyError, match=r"'scipy'.*pip install 'joulebench\[analysis\]'"):
        setup_correlations(tiny_dataset()[0])


def tiny_dataset():
    rows, acc = [], []
    for i in range(12):
        m = f"net{i}.tag"
        for setup, scale in (("A100:torch-fp32", 1.0), ("H100:torch-fp32", 0.5)):
            if setup == "H100:torch-fp32" and i == 11:
                continue  # only measured on one setup
            rows.append({"model": m, "img_size": 224, "setup": setup, "energy_per_image_j": scale * (i + 1) / 100})
        for t, drop in (
            ("imagenet", 0),
            ("imagenet-real", -5),
            ("imagenetv2", 10),
            ("sketch", 40),
            ("imagenet-a", 50),
            ("imagenet-r", 35),
        ):
            acc.append({"model": m, "img_size": 224, "testset": t, "top1": 70 + i - drop})
    cat = pd.DataFrame(
        {"model": [f"net{i}.tag" for i in range(12)], "img_size": 224, "type": ["CNN", "Transformer"] * 6}
    )
    return pd.DataFrame(rows), pd.DataFrame(acc), cat


def test_energy_accuracy_errors_list_what_exists():
    e, a, _ = tiny_dataset()
    with pytest.raises(ConfigError, match="Available setups: A100:torch-fp32, H100:torch-fp32"):
        energy_accuracy(e, a, "V100:torch-fp32")
    with pytest.raises(ConfigError, match="Available test sets: imagenet, imagenet-a"):
        energy_accuracy(e, a, "A100:torch-fp32", ["imagenet-c"])


def test_energy_accuracy_averages_testsets():
    e, a, cat = tiny_dataset()
    d = energy_accuracy(e, a, "A100:torch-fp32", ["imagenet", "sketch"], cat)
    row = d[d["model"] == "net0.tag"].iloc[0]
    assert row["accuracy"] == pytest.approx((70 + 30) / 2)
    assert row["type"] == "CNN"


def test_robustness_by_hand():
    e, a, cat = tiny_dataset()
    rf = robustness_frame(e, a, "A100:torch-fp32", cat)
    # drops: real -5, v2 10, sketch 40, a 50, r 35 -> mean 26
    assert rf["drop"].to_numpy() == pytest.approx(np.full(len(rf), 26.0))
    assert set(drop_by(rf, "type")["type"]) == {"CNN", "Transformer"}
    assert rf["energy_decile"].min() == 1 and rf["energy_decile"].max() == 10
    stab = frontier_stability(rf).set_index("testset")
    # accuracy rises with energy on every set, so every model is on every frontier
    assert stab.loc["sketch", "on_fraction"] == 1.0
    assert stab.loc["robust_mean", "imagenet_frontier_models"] == 12


def test_setup_correlations_common_models_only():
    e, _, _ = tiny_dataset()
    c = setup_correlations(e)
    assert len(c) == 1
    r = c.iloc[0]
    assert r["n"] == 11
    assert r["pearson"] == pytest.approx(1.0) and r["spearman"] == pytest.approx(1.0)
    assert r["median_ratio_b_over_a"] == pytest.approx(0.5)
    assert not math.isnan(r["pearson_log"])


def test_source_priority_failed_rows_and_stats_fill():
    from joulebench.analysis.frames import attach, static_facts

    e = pd.DataFrame(
        {
            "model": ["a.t", "a.t", "a.t", "b.t"],
            "img_size": 224,
            "setup": "G:x",
            "source": ["timm", "joulebench", "hidden-joules-2025", "joulebench"],
            "status": ["ok", "ok", "ok", "failed"],
            "energy_per_image_j": [3.0, 1.0, 2.0, 5.0],
        }
    )
    a = pd.DataFrame(
        {
            "model": ["a.t", "a.t"],
            "img_size": 224,
            "testset": "imagenet",
            "top1": [80.0, 79.0],
            "source": ["hidden-joules-2025", "timm"],
        }
    )
    cat = pd.DataFrame({"model": ["a.t"], "img_size": [224], "type": ["CNN"], "params": [None], "macs": [5e9]})
    stats = pd.DataFrame({"model": ["a.t"], "img_size": [224], "params": [2e7], "macs": [1.0], "activations": [3e6]})
    d = energy_accuracy(e, a, "G:x", catalogue=cat, stats=stats)
    assert len(d) == 1  # the failed row of b.t is skipped
    r = d.iloc[0]
    assert r["energy_per_image_j"] == 1.0  # own measurement first
    assert r["accuracy"] == 79.0  # timm's accuracy first
    assert (r["params"], r["macs"], r["activations"]) == (2e7, 5e9, 3e6)  # catalogue first, stats fill gaps
    assert attach(e.head(1), static_facts(cat)).loc[0, "arch"] == "a"
