"""The paper's computations on small hand-made datasets with known answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from joulebench.analysis import estimators as E
from joulebench.analysis import naive as N
from joulebench.analysis.correlation import common_models, setup_correlations
from joulebench.analysis.effects import input_size_accuracy
from joulebench.analysis.robustness import drop_by_family_group, family_group
from joulebench.analysis.static import loglinear_fit, loglinear_report, static_correlations
from joulebench.errors import ConfigError


def test_naive_conventions_by_hand():
    # 1 GMAC at 250 W on an A100: the paper's 1 FLOP/MAC over the 78 TFLOP/s non-tensor FP16 peak ...
    paper = N.naive_energy(1e9, "A100", "fp16", 250, N.PAPER)[()]
    assert paper == pytest.approx(1e9 / 78e12 * 250)
    # ... is 2x the datasheet convention's 2 FLOP/MAC over the 312 TFLOP/s tensor-core peak
    assert N.naive_energy(1e9, "A100", "fp16", 250)[()] == pytest.approx(2e9 / 312e12 * 250)
    assert paper / N.naive_energy(1e9, "A100", "fp16", 250)[()] == pytest.approx(2.0)
    # FP32 has no tensor-core rate apart from TF32: both kinds divide by 19.5 TFLOP/s
    assert N.peak_flops("A100", "fp32", "non-tensor") == N.peak_flops("A100", "fp32") == 19.5e12
    assert N.NaiveConvention(1, "non-tensor").describe() == "1 FLOP per MAC, non-tensor peak"
    with pytest.raises(ConfigError, match="tensor-core, non-tensor"):
        N.NaiveConvention(2, "sparse")
    with pytest.raises(ConfigError, match="positive"):
        N.NaiveConvention(0, "tensor-core")


def test_naive_errors_counts_overestimates_and_groups():
    unit = 1e9 / 19.5e12 * 250  # paper-convention estimate of 1 GMAC on A100 FP32
    d = pd.DataFrame(
        {
            "gpu": "A100",
            "precision": "fp32",
            "power_limit_w": 250.0,
            "type": ["CNN", "CNN", "Transformer", "Transformer"],
            "macs": [1e9, 1e9, 1e9, 1e9],
            "energy_per_image_j": [0.5 * unit, 2 * unit, 4 * unit, 4 * unit],
        }
    )
    rows, s = N.naive_errors(d, N.PAPER)
    assert rows["underestimation"].to_numpy() == pytest.approx([0.5, 2, 4, 4])
    assert s["geomean"] == pytest.approx(2.0)  # (0.5*2*4*4)^(1/4)
    assert s["overestimated"] == pytest.approx(0.25)
    assert (s["flops_per_mac"], s["peak"]) == (1.0, "non-tensor")
    by = N.naive_factor_by(rows, "type").set_index("type")
    assert by.loc["CNN", "geomean"] == pytest.approx(1.0) and by.loc["CNN", "overestimated"] == 0.5
    assert by.loc["Transformer", "geomean"] == pytest.approx(4.0) and by.loc["Transformer", "overestimated"] == 0


def _family_data(n_fam=6, arch_per_fam=4, seed=0):
    """Energy = power law x a per-family factor: held-out families cannot learn their factor."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(n_fam):
        factor = 3.0 ** (f % 3 - 1)
        for a in range(arch_per_fam):
            p, m, act = 10 ** rng.uniform(6, 8), 10 ** rng.uniform(8, 10.5), 10 ** rng.uniform(6, 8)
            for t in range(2):
                rows.append(
                    {
                        "model": f"f{f}a{a}.t{t}",
                        "arch": f"f{f}a{a}",
                        "family": f"fam{f}",
                        "type": "CNN",
                        "img_size": 224,
                        "params": p,
                        "macs": m,
                        "activations": act,
                        "energy_per_image_j": 1e-9 * m**0.6 * act**0.3 * factor * (1 + 0.01 * t),
                    }
                )
    return pd.DataFrame(rows)


def test_family_held_out_folds_keep_families_apart():
    d = _family_data()
    folds = E.group_kfold(E.cv_groups(d, "family"), k=3)
    for test in folds:
        train = np.setdiff1d(np.arange(len(d)), test)
        assert not set(d["family"].iloc[test]) & set(d["family"].iloc[train])
    with pytest.raises(ConfigError, match="arch, family"):
        E.cv_groups(d, "type")
    cv = E.cross_validate_both(d, ("log-linear",), k=3).set_index("grouping")
    assert list(cv.index) == ["arch", "family"]
    # within a family the tags of other architectures teach the family factor; across families nothing does
    assert cv.loc["family", "mape"] > cv.loc["arch", "mape"]


def test_static_correlations_by_hand():
    macs = np.array([1e9, 2e9, 3e9, 5e9, 8e9])
    d = pd.DataFrame(
        {
            "energy_per_image_j": macs * 1e-11,
            "macs": macs,
            "params": 1e10 / macs,  # falls as energy rises: Spearman -1
            "activations": [1e6, 3e6, 2e6, 5e6, 4e6],
        }
    )
    c = static_correlations(d).set_index("feature")
    assert c.loc["macs", "pearson"] == pytest.approx(1.0)
    assert c.loc["macs", "spearman"] == pytest.approx(1.0)
    assert c.loc["params", "spearman"] == pytest.approx(-1.0)
    assert c.loc["activations", "spearman"] == pytest.approx(0.8)  # one swapped pair: 1 - 6*2/(5*24)
    assert c.loc["activations", "n"] == 5


def test_loglinear_fit_in_paper_units():
    rng = np.random.default_rng(1)
    n = 60
    p, m, a = 10 ** rng.uniform(6, 8, n), 10 ** rng.uniform(8, 10, n), 10 ** rng.uniform(6, 8, n)
    # ln E[mJ] = -3 + 0.2 ln params + 0.5 ln GMACs + 0.4 ln activations, exactly
    e_mj = np.exp(-3.0 + 0.2 * np.log(p) + 0.5 * np.log(m / 1e9) + 0.4 * np.log(a))
    d = pd.DataFrame({"params": p, "macs": m, "activations": a, "energy_per_image_j": e_mj / 1e3})
    fit = loglinear_fit(d)
    coef = {c["term"]: c for c in fit["coefficients"]}
    assert coef["const"]["value"] == pytest.approx(-3.0, abs=1e-8)
    assert coef["params"]["value"] == pytest.approx(0.2, abs=1e-9)
    assert coef["gmacs"]["value"] == pytest.approx(0.5, abs=1e-9)
    assert coef["activations"]["value"] == pytest.approx(0.4, abs=1e-9)
    assert fit["in_sample_mape"] == pytest.approx(0.0, abs=1e-6) and fit["r2"] == pytest.approx(1.0)
    # with 5 % noise the 95 % intervals are wider than zero and hold the truth
    noisy = d.assign(energy_per_image_j=d["energy_per_image_j"] * np.exp(rng.normal(0, 0.05, n)))
    nf = {c["term"]: c for c in loglinear_fit(noisy)["coefficients"]}
    for term, true in (("const", -3.0), ("params", 0.2), ("gmacs", 0.5), ("activations", 0.4)):
        assert nf[term]["low"] < true < nf[term]["high"]
        assert nf[term]["high"] - nf[term]["low"] > 0
    rep = loglinear_report(noisy.assign(model=[f"m{i}.t" for i in range(n)], family=[f"f{i % 6}" for i in range(n)]))
    assert rep["cv_mape_arch"] > 0 and rep["cv_mape_family"] > 0 and rep["folds"] == 5


def _energy(rows):
    return pd.DataFrame(rows, columns=["model", "img_size", "setup", "energy_per_image_j"])


def test_table1_selection_keeps_models_of_every_setup():
    rows = []
    for i, (a, b) in enumerate([(1.0, 2.0), (2.0, 4.0), (3.0, 6.0), (4.0, 8.0)]):
        rows += [(f"m{i}", 224, "X:a", a), (f"m{i}", 224, "X:b", b), (f"m{i}", 224, "Y:c", a)]
    rows += [("odd", 224, "X:a", 100.0), ("odd", 224, "X:b", 1.0)]  # not on Y:c
    e = _energy(rows)
    assert sorted(common_models(e, ["X:a", "X:b", "Y:c"])["model"].unique()) == ["m0", "m1", "m2", "m3"]
    common = setup_correlations(e, ["X:a", "X:b", "Y:c"], pairs=[("X:a", "X:b")], common=True).iloc[0]
    assert common["n"] == 4 and common["pearson"] == pytest.approx(1.0) and common["spearman"] == pytest.approx(1.0)
    every = setup_correlations(e, ["X:a", "X:b", "Y:c"], pairs=[("X:a", "X:b")]).iloc[0]
    assert every["n"] == 5 and every["pearson"] < 0  # the odd model drags the pair's correlation down


def test_family_groups_and_their_drop():
    d = pd.DataFrame(
        {
            "model": ["resnet50.a1", "vit_b.laion2b_ft", "vit_s.augreg", "coat.in1k", "clipnet.x", "mixer.in1k"],
            "type": ["CNN", "Transformer", "Transformer", "Hybrid CNN-Transformer", "CNN", "MLP"],
            "family": ["resnet", "vit", "vit", "coat", "clip", "mlp-mixer"],
            "imagenet": [80.0, 85.0, 81.0, 82.0, 84.0, 76.0],
            "robust_mean": [50.0, 70.0, 55.0, 54.0, 66.0, 46.0],
            "energy_per_image_j": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        }
    )
    d["drop"] = d["imagenet"] - d["robust_mean"]
    assert list(family_group(d)) == ["CNN", "CLIP", "Transformer", "Hybrid", "CLIP", "MLP"]
    g = drop_by_family_group(d).set_index("group")
    assert g.loc["CLIP", "mean_drop"] == pytest.approx((15 + 18) / 2)
    assert g.loc["Transformer", "mean_drop"] == pytest.approx(26.0)
    assert g.loc["CNN", "n"] == 1


def test_input_size_accuracy_by_hand():
    d = pd.DataFrame(
        {
            "model": ["a.t", "a.t", "a.t", "b.t"],
            "img_size": [224, 256, 288, 224],
            "accuracy": [80.0, 80.5, 81.0, 70.0],
            "energy_per_image_j": [1.0, 1.5, 4.0, 1.0],
        }
    )
    r = input_size_accuracy(d)
    assert list(r["model"]) == ["a.t"]  # b has one size only
    row = r.iloc[0]
    assert row["sizes"] == "224, 256, 288" and row["accuracy_gain"] == pytest.approx(1.0)
    assert row["energy_ratio"] == pytest.approx(4.0) and row["points_per_doubling"] == pytest.approx(0.5)
    assert math.isnan(input_size_accuracy(d.assign(energy_per_image_j=1.0)).iloc[0]["points_per_doubling"])


REQUIRED_KEYS = [
    *(
        f"table1/{a}~{b}/{m}"
        for a, b in (
            ("A100:tensorrt-fp16", "A100:torch-fp32"),
            ("A100:tensorrt-fp16", "H100:tensorrt-fp16"),
            ("H100:torch-fp32", "A100:torch-fp32"),
            ("H100:torch-fp32", "H100:tensorrt-fp16"),
        )
        for m in ("pearson", "spearman")
    ),
    "fig5/A100:torch-fp32/naive_factor_geomean",
    "fig5/A100:tensorrt-fp16/naive_factor_geomean",
    *(f"fig6/A100:torch-fp32/{q}" for q in ("pearson_params", "pearson_macs", "pearson_activations", "loglinear_mape")),
    *(
        f"table3/{s}/{t}"
        for s in ("A100:torch-fp32", "A100:tensorrt-fp16", "H100:torch-fp32", "H100:tensorrt-fp16")
        for t in ("const", "params", "gmacs", "activations")
    ),
    "fig9a/A100:torch-fp32/throughput_mape",
    "fig9a/A100:tensorrt-fp16/throughput_mape",
    *(f"fig10/{g}/{q}" for g in ("A100", "H100") for q in ("reduction_geomean", "reduction_gsd")),
    *(f"a8/drop/{g}" for g in ("CNN", "Hybrid", "Transformer", "CLIP")),
    "fig1/frontier_families",
]


@pytest.mark.slow
def test_paper_json_on_the_shipped_reference_data():
    pytest.importorskip("sklearn")
    from typer.testing import CliRunner

    from joulebench.cli import app

    res = CliRunner().invoke(app, ["paper", "--json"], env={"JOULEBENCH_DB": "/nonexistent/joulebench.db"})
    assert res.exit_code == 0, res.output
    import json

    rows = {r["key"]: r for r in json.loads(res.stdout)["rows"]}
    for key in REQUIRED_KEYS:
        assert key in rows, key
        assert isinstance(rows[key]["computed"], float), (key, rows[key])
        assert set(rows[key]) == {"key", "quantity", "published", "computed", "note"}
    # the paper's convention reproduces its naive factor to within joulebench's own MAC counts
    assert rows["fig5/A100:torch-fp32/naive_factor_geomean"]["computed"] == pytest.approx(3.13, rel=0.1)
    assert rows["fig10/A100/reduction_geomean"]["computed"] == pytest.approx(3.94, abs=0.01)
    assert "agrees" in rows["fig10/A100/reduction_geomean"]["note"]
    # every row belongs to a numbered figure (or is marked as joulebench's addition), and every key the request
    # names has a published value: quoted, or computed from the paper's own data files
    from joulebench.analysis.paper_figures import figure_of

    out = json.loads(res.stdout)
    assert [f["number"] for f in out["figures"]][:3] == ["Table 1", "Fig. 1", "Fig. 2"]
    assert all(figure_of(k) is not None for k in rows), [k for k in rows if figure_of(k) is None]
    for key in REQUIRED_KEYS:
        assert isinstance(rows[key]["published"], float), (key, rows[key])
    # the same energies as the paper's files, timm's test_* fixtures left out: Table 1 and Fig. 10 agree to the digit
    from joulebench.analysis.paper_published import FROM_DATA

    for key in [k for k in REQUIRED_KEYS if k.startswith(("table1/", "fig10/"))]:
        assert float(f"{rows[key]['computed']:.4g}") == FROM_DATA[key], key


def test_published_values_name_their_source_and_flag_unchecked_ones(monkeypatch):
    from joulebench.analysis import paper, paper_published

    assert set(paper_published.SOURCES) == set(paper_published.PUBLISHED)
    assert all(paper_published.SOURCES.values())
    assert paper_published.CHECKED <= set(paper_published.PUBLISHED)
    monkeypatch.setitem(paper.PUBLISHED, "x/unchecked", (2.0, ""))
    monkeypatch.setitem(paper.PUBLISHED, "x/checked", (2.0, ""))
    monkeypatch.setattr(paper, "CHECKED", frozenset({"x/checked"}))
    unchecked = paper._finish("x/unchecked", "q", 2.0)
    assert unchecked.published == 2.0 and "agrees" in unchecked.note
    assert paper_published.UNCHECKED_NOTE in unchecked.note
    assert paper_published.UNCHECKED_NOTE not in paper._finish("x/checked", "q", 2.0).note
    assert paper_published.UNCHECKED_NOTE not in paper._finish("x/unrecorded", "q", 2.0).note


def _paper_data():
    """Two setups of one GPU, 24 models in 3 families; the optimised setup is exactly 4x cheaper."""
    from joulebench.analysis.paper import PaperData

    d = _family_data(n_fam=3, arch_per_fam=4)
    d["type"] = ["CNN", "Transformer", "Hybrid CNN-Transformer"] * 8
    base = d.assign(setup="G:torch-fp32", gpu="A100", precision="fp32", power_limit_w=250.0)
    base["throughput_ips"] = 250.0 / base["energy_per_image_j"]  # the throughput estimate is exact
    fast = base.assign(setup="G:tensorrt-fp16", precision="fp16", energy_per_image_j=base["energy_per_image_j"] / 4)
    energy = pd.concat([base, fast], ignore_index=True)
    acc = []
    for i, m in enumerate(d["model"]):
        acc.append((m, 224, "imagenet", 70.0 + i))
        acc += [(m, 224, t, 50.0 + i) for t in ("imagenet-real", "imagenetv2", "sketch", "imagenet-a", "imagenet-r")]
    accuracy = pd.DataFrame(acc, columns=["model", "img_size", "testset", "top1"])
    cat = d[["model", "arch", "family", "type", "img_size", "params", "macs", "activations"]]
    return PaperData(energy, accuracy, cat)


@pytest.mark.slow
def test_paper_rows_on_a_hand_made_dataset():
    from joulebench.analysis.paper import paper_rows

    rows = {r.key: r for r in paper_rows(_paper_data(), k=3)}
    t1 = rows["table1/G:tensorrt-fp16~G:torch-fp32/pearson"]
    assert t1.computed == pytest.approx(1.0) and t1.published is None
    red = rows["fig10/G/reduction_geomean"]  # tensorrt-fp16 vs torch-fp32 on GPU "G"
    assert red.computed == pytest.approx(4.0) and rows["fig10/G/reduction_gsd"].computed == pytest.approx(1.0)
    assert rows["fig9a/G:torch-fp32/throughput_mape"].computed == pytest.approx(0.0, abs=1e-9)
    assert rows["a8/drop/CNN"].computed == pytest.approx(20.0)  # every model drops 20 points
    assert rows["fig1/G:torch-fp32/frontier_families"].computed >= 1
    assert "table3/G:torch-fp32/gmacs" in rows and "CI" in rows["table3/G:torch-fp32/gmacs"].note
    # one setup is exactly 4x the other: five shared models predict the rest without error
    assert rows["transfer/G:tensorrt-fp16~G:torch-fp32/k5_median_mape"].computed == pytest.approx(0.0, abs=1e-9)
    data = _paper_data()
    cnn = data.energy[(data.energy["setup"] == "G:torch-fp32") & (data.energy["type"] == "CNN")]
    centre = np.exp(np.log(cnn["energy_per_image_j"]).mean()) * 1e3
    assert rows["types/G:torch-fp32/CNN/centre_energy_mj"].computed == pytest.approx(centre)
    assert rows["robustness/G:torch-fp32/mean_drop"].computed == pytest.approx(20.0)


@pytest.mark.slow
def test_paper_rows_compare_with_published_values(monkeypatch):
    from joulebench.analysis import paper

    monkeypatch.setitem(paper.PUBLISHED, "fig10/G/reduction_geomean", (4.01, "why it differs"))
    monkeypatch.setitem(paper.PUBLISHED, "fig10/G/reduction_gsd", (2.0, "the spread differs because of X"))
    rows = {r.key: r for r in paper.paper_rows(_paper_data(), k=3)}
    assert rows["fig10/G/reduction_geomean"].published == 4.01
    assert "agrees" in rows["fig10/G/reduction_geomean"].note
    assert "differs: the spread differs because of X" in rows["fig10/G/reduction_gsd"].note
    with pytest.raises(ConfigError, match="not in the dataset"):
        paper.paper_rows(_paper_data(), ["G:nope"])


@pytest.mark.slow
def test_report_has_the_paper_section():
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    from joulebench.analysis.report import build_report

    data = _paper_data()
    rep = build_report(data.energy, data.accuracy, data.catalogue, cv_folds=3)
    assert "8. The paper's results on these setups" in rep.html and "paper.csv" in rep.html
    rows = {r["key"]: r for r in rep.summary["paper"]}
    assert rows["fig10/G/reduction_geomean"]["computed"] == pytest.approx(4.0)
    assert "naive_overestimated" in rep.summary["estimators"][0]


NO_DB = {"JOULEBENCH_DB": "/nonexistent/joulebench.db", "COLUMNS": "250"}


def _cli(*args):
    from typer.testing import CliRunner

    from joulebench.cli import app

    res = CliRunner().invoke(app, list(args), env=NO_DB)
    assert res.exit_code == 0, res.output
    return res


@pytest.mark.slow
def test_cli_estimate_naive_convention_fit_and_both_cvs():
    pytest.importorskip("sklearn")
    import json

    base = ["estimate", "resnet50.a1_in1k", "--img-size", "224", "--setup", "A100:torch-fp32", "--json"]
    default = json.loads(_cli(*base).stdout)
    naive = next(e for e in default["estimates"] if e["estimator"] == "naive")
    assert naive["error_pct"] > 0  # 2 FLOPs/MAC at the FP32 peak overestimates this CNN (PyTorch runs it in TF32)
    paper = json.loads(_cli(*base, "--flops-per-mac", "1", "--peak", "non-tensor", "--fit", "--cv").stdout)
    pnaive = next(e for e in paper["estimates"] if e["estimator"] == "naive")
    # FP32 has one peak for both kinds, so counting a MAC as 1 FLOP halves the estimate
    assert pnaive["energy_per_image_j"] == pytest.approx(naive["energy_per_image_j"] / 2)
    assert paper["naive_convention"] == {"flops_per_mac": 1.0, "peak": "non-tensor"}
    terms = [c["term"] for c in paper["fit"]["coefficients"]]
    assert terms == ["const", "params", "gmacs", "activations"]
    assert all(c["low"] < c["value"] < c["high"] for c in paper["fit"]["coefficients"])
    assert {(r["estimator"], r["grouping"]) for r in paper["cross_validation"]} == {
        (e, g) for e in ("log-linear", "boosted-static") for g in ("arch", "family")
    }
    text = _cli(*base[:-1], "--fit").stdout
    assert "ln E[mJ] = const" in text and "Pearson r" in text


def test_cli_frontier_prints_families_and_labels_averaged_accuracy():
    text = _cli("frontier", "--setup", "A100:torch-fp32", "-t", "imagenet", "-t", "sketch").stdout
    assert "mean top-1 % (2 sets)" in text and "accuracy = mean top-1 over imagenet, sketch" in text
    assert "Families on the frontier" in text and "hgnet" in text
    single = _cli("frontier", "--setup", "A100:torch-fp32").stdout
    assert "mean top-1" not in single and "Families on the frontier" in single


REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "paper-2025"


def test_published_data_and_quoted_values_in_the_note(monkeypatch):
    from joulebench.analysis import paper, paper_published

    monkeypatch.setattr(paper, "FROM_DATA", {"fig10/X/reduction_geomean": 4.0, "a8/drop/X": 20.0})
    monkeypatch.setitem(paper.PUBLISHED, "fig10/X/reduction_geomean", (3.9, ""))
    # quoted and computed from the data: the quote is the published value, the data's value is in the note
    both = paper._finish("fig10/X/reduction_geomean", "q", 3.9)
    assert both.published == 3.9 and "agrees with the paper (rounding)" in both.note
    assert "the paper's published data give 4" in both.note and paper_published.FROM_DATA_NOTE not in both.note
    # computed from the data alone: it is the published value, marked as computed, with why joulebench differs
    only = paper._finish("a8/drop/X", "q", 25.0)
    assert only.published == 20.0 and paper_published.FROM_DATA_NOTE in only.note
    assert "differs: joulebench takes timm's own accuracies first" in only.note
    assert paper_published.UNCHECKED_NOTE in only.note
    assert "agrees with the paper's data (rounding)" in paper._finish("a8/drop/X", "q", 20.1).note


def _write_paper_folder(folder):
    """Two models on the paper's four setups: TensorRT exactly 4x cheaper, 2 MACs per joule-unit apart."""
    folder.mkdir()
    head = "Type,Family,Model Name,Input Size,Accuracy,Max BS,Optimal BS,Throughput,Latency,Energy,DONE\n"
    models = [("a.t1", 224, 10.0), ("b.t1", 224, 40.0), ("c.t1", 224, 20.0), ("test_x.r", 160, 1.0)]
    for file, div, limit in (("A100_PT", 1, 250), ("A100_TRT", 4, 250), ("H100_PT", 1, 310), ("H100_TRT", 4, 310)):
        rows = [f"TBD,TBD,{m},{s},80,64,,{limit / (e / div / 1e3)},1.0,{e / div},True\n" for m, s, e in models]
        (folder / f"{file}.csv").write_text(head + "".join(rows), encoding="utf-8")
    stats = "model_name,input_size_csv,params_tinfo,macs_tinfo,macs_ptflops,activations\n"
    stats += "a.t1,224,1e6,1e9,2e9,1e6\nb.t1,224,2e6,8e9,4e9,4e6\nc.t1,224,3e6,4e9,4e9,2e6\ntest_x.r,160,1,1,1,1\n"
    (folder / "model_stats.csv").write_text(stats, encoding="utf-8")
    acc = "Model Name,Input Size,imagenet-original,imagenet-real,imagenetv2-matched-frequency,sketch,imagenet-a,"
    acc += "imagenet-a-clean,imagenet-r,imagenet-r-clean,url\n"
    acc += "".join(f"{m},{s},{70 + i},60,60,60,60,90,60,90,u\n" for i, (m, s, _) in enumerate(models))
    (folder / "model_accuracy.csv").write_text(acc, encoding="utf-8")


def test_published_data_rows_on_hand_made_paper_files(tmp_path):
    from joulebench.analysis.paper_data import published_data_values, read_paper_files, read_paper_stats

    folder = tmp_path / "paper-2025"
    _write_paper_folder(folder)
    stats = read_paper_stats(folder).set_index("model")
    assert stats.loc["a.t1", "macs"] == 2e9 and stats.loc["b.t1", "macs"] == 8e9  # the larger of the two counts
    assert "test_x.r" not in set(read_paper_files(folder).energy["model"])  # fixtures left out
    cat = pd.DataFrame(
        {"model": ["a.t1", "b.t1", "c.t1"], "img_size": 224, "type": "CNN", "family": ["fa", "fb", "fa"], "macs": 1.0}
    )
    v = published_data_values(folder, cat)
    assert v["fig10/A100/reduction_geomean"] == pytest.approx(4.0) and v["fig10/H100/reduction_gsd"] == 1.0
    assert v["table1/H100:torch-fp32~A100:torch-fp32/pearson"] == pytest.approx(1.0)
    assert v["fig9a/A100:torch-fp32/throughput_mape"] == pytest.approx(0.0, abs=1e-9)  # throughput = limit / energy
    # naive factor with the paper's MACs (not the catalogue's 1.0): energy / (MACs / 19.5e12 * 250), in joules
    factors = [10e-3 / (2e9 / 19.5e12 * 250), 40e-3 / (8e9 / 19.5e12 * 250), 20e-3 / (4e9 / 19.5e12 * 250)]
    assert v["fig5/A100:torch-fp32/naive_factor_geomean"] == pytest.approx(np.exp(np.mean(np.log(factors))), rel=1e-3)
    assert v["a8/drop/CNN"] == pytest.approx(np.mean([70 - 60, 71 - 60, 72 - 60]))
    # energies 10 < 20 < 40 mJ with accuracies 70 < 72 > 71: a and c are on the frontier, families fa only
    assert v["fig1/A100:torch-fp32/frontier_models"] == 2 and v["fig1/frontier_families"] == 1
    with pytest.raises(ConfigError, match="none of the paper's files"):
        read_paper_files(tmp_path)


@pytest.mark.skipif(not (REFERENCE / "A100_PT.csv").exists(), reason=f"no reference data at {REFERENCE.resolve()}")
def test_recorded_published_data_values_are_what_the_paper_files_give():
    from joulebench.analysis.paper_data import published_data_values
    from joulebench.analysis.paper_published import FROM_DATA
    from joulebench.data import load_dataset

    assert published_data_values(REFERENCE, load_dataset().catalogue) == FROM_DATA
    for key in REQUIRED_KEYS:  # every key the request names has a published value, quoted or computed
        assert key in FROM_DATA, key
    assert FROM_DATA["fig10/A100/reduction_geomean"] == pytest.approx(3.94, abs=0.005)


def test_every_figure_the_request_names_is_listed_once_with_its_keys():
    from joulebench.analysis import paper_figures as F

    named = ["Table 1", "Table 3", "A.7", "A.8", *(f"Fig. {n}" for n in (1, 2, 3, 5, 6, 7, 8, 10)), "Fig. 9a"]
    numbers = [f.number for f in F.FIGURES]
    assert sorted(n for n in numbers if n != "–") == sorted(named)
    assert len({f.prefix for f in F.FIGURES}) == len(F.FIGURES)  # one figure per key prefix
    assert F.figure_of("types/A100:torch-fp32/CNN/centre_energy_mj").number == "Fig. 3"
    assert F.figure_of("curve/X:y/a").label == "Fig. 2 (?)"  # inferred numbers say so
    assert F.figure_of("table1/A~B/pearson").label == "Table 1"
    assert F.figure_of("cv/X:y/log-linear/arch_mape").number_source == F.EXTRA
    assert F.figure_of("nope/x") is None
