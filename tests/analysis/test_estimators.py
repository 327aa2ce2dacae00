"""Estimators: hand-computed values, recovered coefficients, grouped folds, transfer, bounds, missing extras."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joulebench.analysis import estimators as E
from joulebench.analysis.estimate import estimate_model
from joulebench.errors import ConfigError, MissingDependencyError


def synthetic(n_arch=40, per_arch=2, seed=0, family_effect=True):
    """Energy = exp(b0) P^0.5 M^0.3 A^0.2 x a strong per-family factor (what a log-linear fit cannot see)."""
    rng = np.random.default_rng(seed)
    rows = []
    fam_factor = {"conv": 1.0, "vit": 6.0, "mlp": 0.25, "dw": 3.0}
    for i in range(n_arch):
        fam = list(fam_factor)[i % 4]
        p, m, a = 10 ** rng.uniform(6, 8), 10 ** rng.uniform(8, 10.5), 10 ** rng.uniform(6, 8)
        for j in range(per_arch):
            e = np.exp(-18.0) * p**0.5 * m**0.3 * a**0.2 * (fam_factor[fam] if family_effect else 1.0)
            rows.append(
                {
                    "model": f"{fam}{i}.t{j}",
                    "arch": f"{fam}{i}",
                    "family": fam,
                    "type": "CNN",
                    "img_size": 224,
                    "params": p,
                    "macs": m,
                    "activations": a,
                    "energy_per_image_j": e * (1 + 0.01 * j),
                }
            )
    return pd.DataFrame(rows)


def test_naive_by_hand():
    # 1 GMAC = 2 GFLOP on A100 FP32 (19.5 TFLOP/s) at 250 W
    assert E.naive_energy(1e9, "A100", "fp32", 250)[()] == pytest.approx(2e9 / 19.5e12 * 250)
    assert E.peak_flops("H100 PCIe", "fp16") == 756.5e12
    # the SXM board (setup H100-SXM) has its own column, not the PCIe one its name starts like
    assert E.peak_flops("H100-SXM", "fp16") == 989.5e12 and "SXM" in E.peak_flops_source("H100-SXM")
    with pytest.raises(ConfigError, match="known: A100, H100, H100-SXM, H200"):
        E.peak_flops("V100", "fp32")


def test_naive_errors_underestimation_factor():
    d = pd.DataFrame(
        {
            "gpu": "A100",
            "precision": "fp32",
            "power_limit_w": 250.0,
            "macs": [1e9, 2e9],
            "energy_per_image_j": [3 * 2e9 / 19.5e12 * 250, 3 * 4e9 / 19.5e12 * 250],
        }
    )
    rows, summary = E.naive_errors(d)
    assert rows["underestimation"].to_numpy() == pytest.approx([3.0, 3.0])
    assert summary["geomean"] == pytest.approx(3.0) and summary["n"] == 2


def test_throughput_by_hand():
    d = pd.DataFrame({"power_limit_w": [300.0], "throughput_ips": [1000.0], "energy_per_image_j": [0.25]})
    assert E.throughput_energy(300, 1000) == pytest.approx(0.3)
    assert E.throughput_errors(d)["mape"] == pytest.approx(20.0)


def test_loglinear_recovers_coefficients():
    d = synthetic(family_effect=False)
    fit = E.LogLinear().fit(d)
    assert fit.coef == pytest.approx([-18.0, 0.5, 0.3, 0.2], abs=0.02)
    assert E.mape(fit.predict(d), d["energy_per_image_j"]) < 1.0


def test_loglinear_too_few_models():
    with pytest.raises(ConfigError, match="at least 5 models"):
        E.LogLinear().fit(synthetic(n_arch=2, per_arch=1))


def test_group_kfold_keeps_architectures_together():
    groups = ["a", "a", "b", "c", "c", "c", "d", "e", "f", "f"]
    folds = E.group_kfold(groups, k=3, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(groups)))
    for f in folds:
        inside = {groups[i] for i in f}
        outside = {groups[i] for g in folds if g is not f for i in g}
        assert not inside & outside
    with pytest.raises(ConfigError, match="at least 5 architectures"):
        E.group_kfold(["a", "b"], k=5)


@pytest.mark.slow
def test_boosted_beats_loglinear_on_same_folds():
    pytest.importorskip("sklearn")
    cv = E.cross_validate(synthetic(n_arch=60), k=5).set_index("estimator")
    assert cv.loc["boosted-static", "n"] == cv.loc["log-linear", "n"] == 120
    assert cv.loc["boosted-static", "mape"] < 0.5 * cv.loc["log-linear", "mape"]


def test_boosted_missing_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'joulebench\[analysis\]'"):
        E.StaticBoost().fit(synthetic())


@pytest.mark.slow
def test_package_imports_without_matplotlib_and_sklearn(src_env):
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['sklearn'] = None\n"
        "import joulebench.analysis, joulebench.analysis.report, joulebench.analysis.estimate\n"
        "import joulebench.cli.entry\n"
        "from joulebench.analysis.frames import pyplot\n"
        "from joulebench.errors import MissingDependencyError\n"
        "try:\n    pyplot()\nexcept MissingDependencyError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=src_env).stdout
    assert "joulebench[analysis]" in out


def transfer_energy():
    rng = np.random.default_rng(0)
    a = 10 ** rng.uniform(-3, 0, 40)
    rows = [{"model": f"m{i}", "img_size": 224, "setup": "A100:x", "energy_per_image_j": v} for i, v in enumerate(a)]
    rows += [
        {"model": f"m{i}", "img_size": 224, "setup": "H100:x", "energy_per_image_j": 2 * v**0.9}
        for i, v in enumerate(a)
    ]
    return pd.DataFrame(rows)


def test_transfer_exact_power_law():
    e = transfer_energy()
    curve = E.transfer_curve(e, "A100:x", "H100:x", ks=(1, 5, 20), repeats=10).set_index("k")
    assert curve.loc[20, "mape_mean"] < 1e-6
    assert curve.loc[5, "mape_mean"] < 1e-6
    assert curve.loc[1, "mape_mean"] > 1.0  # one model: a pure ratio cannot follow the slope 0.9
    t = E.fit_transfer([1.0, 2.0, 4.0, 8.0, 16.0], [2.0, 2 * 2**0.9, 2 * 4**0.9, 2 * 8**0.9, 2 * 16**0.9])
    assert (t.alpha, t.beta) == pytest.approx((np.log(2), 0.9))
    p = E.transfer_predict(e, "m3", 224, "A100:x", "H100:x")
    assert p["energy_per_image_j"] == pytest.approx(2 * e.iloc[3]["energy_per_image_j"] ** 0.9)


@settings(max_examples=50, deadline=None)
@given(
    macs=st.floats(0, 1e13, allow_nan=False),
    power=st.floats(0, 1000, allow_nan=False),
    tput=st.floats(1e-3, 1e6, allow_nan=False),
    x=st.lists(st.floats(1, 1e12, allow_nan=False), min_size=3, max_size=3),
)
def test_estimators_never_negative(macs, power, tput, x):
    assert E.naive_energy(macs, "H200", "bf16", power) >= 0
    assert E.throughput_energy(power, tput) >= 0
    fit = E.LogLinear().fit(synthetic(n_arch=6, per_arch=1, family_effect=False))
    row = pd.DataFrame({"params": [x[0]], "macs": [x[1]], "activations": [x[2]]})
    assert fit.predict(row)[0] >= 0
    assert E.fit_transfer([1e-3, 1.0], [2e-3, 1.5]).predict(x).min() >= 0


def test_estimate_model_all_estimators():
    pytest.importorskip("sklearn")
    d = synthetic(n_arch=40)
    energy = d.assign(setup="A100:torch-fp32", gpu="A100", precision="fp32", power_limit_w=250.0, throughput_ips=1000.0)
    other = energy.assign(setup="H100:torch-fp32", gpu="H100", energy_per_image_j=energy["energy_per_image_j"] * 0.8)
    energy = pd.concat([energy, other], ignore_index=True)
    cat = d[["model", "arch", "family", "type", "img_size", "params", "macs", "activations"]]
    res = estimate_model(energy, cat, "vit1.t0", "H100:torch-fp32")
    names = [r["estimator"] for r in res["estimates"]]
    assert names[:4] == ["naive", "throughput", "log-linear", "boosted-static"]
    assert "transfer from A100:torch-fp32" in names
    assert res["measured_j"] == pytest.approx(other.set_index("model").loc["vit1.t0", "energy_per_image_j"])
    tr = next(r for r in res["estimates"] if r["estimator"].startswith("transfer"))
    assert abs(tr["error_pct"]) < 1e-6  # the setups differ by an exact factor
    thr = res["estimates"][1]
    assert thr["energy_per_image_j"] == pytest.approx(250.0 / 1000.0)
    with pytest.raises(ConfigError, match="Available setups"):
        estimate_model(energy, cat, "vit1.t0", "H200:torch-fp32")
    with pytest.raises(ConfigError, match="model 'nope' is not in the dataset"):
        estimate_model(energy, cat, "nope", "H100:torch-fp32")
