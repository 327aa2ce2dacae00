"""Consistency checks: repeated workloads within a setup, and ratio outliers between setups (exact numbers)."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pandas as pd
import pytest
from typer.testing import CliRunner

import joulebench.cli.loading as cmd
from joulebench.analysis.consistency import (
    pooled_sd_log,
    ratio_outliers,
    repeatability,
    repeatability_table,
    workload_groups,
)
from joulebench.cli import app
from joulebench.errors import ConfigError

ENV = {"COLUMNS": "250", "JOULEBENCH_DB": ""}


def rows(setup: str, energies: dict[str, float], img_size: int = 224, source: str = "hidden-joules-2025"):
    return pd.DataFrame(
        {
            "model": list(energies),
            "img_size": img_size,
            "setup": setup,
            "source": source,
            "energy_per_image_j": list(energies.values()),
        }
    )


@pytest.fixture
def energy():
    a = rows(
        "A100:torch-fp32",
        {
            "resnet18.a1_in1k": 0.010,
            "resnet18.tv_in1k": 0.011,  # spread 1.1: not above the default threshold
            "resnet18.gluon_in1k": 0.0105,
            "vit_small.augreg_in1k": 0.040,
            "vit_small.fb_in1k": 0.080,  # spread 2.0: discordant
            "convnext_tiny.fb_in1k": 0.050,  # alone: not a repeat
        },
    )
    b = rows(
        "H100:torch-fp32",
        {
            "resnet18.a1_in1k": 0.008,  # ratio 0.8
            "resnet18.tv_in1k": 0.0088,  # 0.8
            "resnet18.gluon_in1k": 0.0084,  # 0.8
            "vit_small.augreg_in1k": 0.032,  # 0.8
            "vit_small.fb_in1k": 0.020,  # 0.25: far below the median
            "convnext_tiny.fb_in1k": 0.100,  # 2.0: far above
        },
    )
    alone = rows("H200:torch-fp32", {"resnet18.a1_in1k": 0.009, "vit_small.fb_in1k": 0.03})
    return pd.concat([a, b, alone], ignore_index=True)


def test_repeatability_spreads_and_pooled_sd_are_exact(energy):
    r = repeatability(energy, "A100:torch-fp32")
    assert (r.groups, r.configs, r.discordant, r.threshold) == (2, 5, 1, 1.10)
    g = r.per_group
    assert list(g["arch"]) == ["vit_small", "resnet18"]  # most discordant first
    assert g["spread"].tolist() == pytest.approx([2.0, 1.1])
    assert g.loc[1, "models"] == "resnet18.a1_in1k, resnet18.gluon_in1k, resnet18.tv_in1k"
    assert (g.loc[1, "energy_min_j"], g.loc[1, "energy_max_j"], g.loc[1, "n"]) == (0.010, 0.011, 3)
    logs = [math.log(x) for x in (0.010, 0.011, 0.0105)]
    m = sum(logs) / 3
    ss_resnet = sum((x - m) ** 2 for x in logs)
    ss_vit = 2 * (math.log(2) / 2) ** 2
    assert r.pooled_sd_log == pytest.approx(math.sqrt((ss_resnet + ss_vit) / (2 + 1)))
    assert r.median_spread == pytest.approx(1.55) and r.max_spread == pytest.approx(2.0)
    assert r.to_dict()["discordant"] == 1 and "per_group" not in r.to_dict()


def test_threshold_changes_what_counts_as_discordant(energy):
    assert repeatability(energy, "A100:torch-fp32", threshold=1.05).discordant == 2
    assert repeatability(energy, "A100:torch-fp32", threshold=3.0).discordant == 0
    with pytest.raises(ConfigError, match="must be >= 1"):
        repeatability(energy, "A100:torch-fp32", threshold=0.9)


def test_catalogue_keeps_apart_tags_whose_computation_differs(energy):
    cat = pd.DataFrame(
        {
            "model": ["vit_small.augreg_in1k", "vit_small.fb_in1k", "resnet18.a1_in1k"],
            "img_size": 224,
            "params": [22e6, 22e6 + 21e6, 11.7e6],  # an in22k head on one tag: not the same workload
            "macs": [4.6e9, 4.62e9, 1.8e9],
        }
    )
    labels = workload_groups(energy[energy["setup"] == "A100:torch-fp32"], cat)
    assert labels.nunique() == 5  # the vit tags split; resnet18 tags stay together (unknown facts keep arch@size)
    r = repeatability(energy, "A100:torch-fp32", catalogue=cat)
    assert r.groups == 1 and r.per_group.loc[0, "arch"] == "resnet18" and r.discordant == 0


def test_input_sizes_are_separate_workloads():
    e = pd.concat(
        [
            rows("A100:torch-fp32", {"resnet18.a1_in1k": 0.01}, 224),
            rows("A100:torch-fp32", {"resnet18.a1_in1k": 0.02}, 288),
        ]
    )
    with pytest.raises(ConfigError, match="two or more tags"):
        repeatability(e, "A100:torch-fp32")


def test_unknown_setup_lists_the_options(energy):
    with pytest.raises(ConfigError, match="Available setups"):
        repeatability(energy, "B200:torch-fp32")


def test_table_skips_setups_without_repeats_unless_named(energy):
    t = repeatability_table(energy)
    assert t["setup"].tolist() == ["A100:torch-fp32", "H100:torch-fp32"] and "per_group" not in t.columns
    with pytest.raises(ConfigError, match="H200:torch-fp32"):
        repeatability_table(energy, ["H200:torch-fp32"])


def test_ratio_outliers_flag_models_far_from_the_median_ratio(energy):
    o = ratio_outliers(energy, "H100:torch-fp32", "A100:torch-fp32")
    assert (o.n, o.low, o.high, o.factor) == (6, 1, 1, 1.5)
    assert o.median_ratio == pytest.approx(0.8)
    assert o.outliers["model"].tolist() == ["vit_small.fb_in1k", "convnext_tiny.fb_in1k"]
    assert o.outliers["off_by"].tolist() == pytest.approx([0.25 / 0.8, 2.0 / 0.8])
    assert o.outliers["ratio"].tolist() == pytest.approx([0.25, 2.0])
    wide = ratio_outliers(energy, "H100:torch-fp32", "A100:torch-fp32", factor=3.0)
    assert (wide.low, wide.high) == (1, 0)  # 0.3125 is still beyond 1/3, 2.5 is not beyond 3
    wider = ratio_outliers(energy, "H100:torch-fp32", "A100:torch-fp32", factor=3.3)
    assert (wider.low, wider.high) == (0, 0) and wider.outliers.empty


def test_ratio_outliers_refuse_bad_input(energy):
    with pytest.raises(ConfigError, match="above 1"):
        ratio_outliers(energy, "H100:torch-fp32", "A100:torch-fp32", factor=1.0)
    with pytest.raises(ConfigError, match="at least 3 models"):
        ratio_outliers(energy, "H200:torch-fp32", "A100:torch-fp32")


@pytest.fixture
def runner(monkeypatch, energy):
    monkeypatch.setattr(cmd, "load", lambda db: SimpleNamespace(energy=energy, catalogue=None))
    return CliRunner()


def test_cli_consistency_json(runner):
    r = runner.invoke(app, ["consistency", "-s", "H100:torch-fp32", "-r", "A100:torch-fp32", "--json"], env=ENV)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [t["setup"] for t in out["repeatability"]] == ["H100:torch-fp32"]
    assert out["repeatability"][0]["discordant"] == 1  # vit_small 0.032 vs 0.020
    assert out["groups"]["H100:torch-fp32"][0]["arch"] == "vit_small"
    assert [m["model"] for m in out["ratio_outliers"]["outliers"]] == ["vit_small.fb_in1k", "convnext_tiny.fb_in1k"]


def test_cli_consistency_tables_and_errors(runner):
    r = runner.invoke(app, ["consistency"], env=ENV)
    assert r.exit_code == 0, r.output
    assert "A100:torch-fp32" in r.output and "H200:torch-fp32" not in r.output
    r = runner.invoke(app, ["consistency", "-s", "H100:torch-fp32", "-r", "A100:torch-fp32", "--top", "1"], env=ENV)
    assert "vit_small@224" in r.output and "resnet18@224" not in r.output and "vit_small.fb_in1k" in r.output
    r = runner.invoke(app, ["consistency", "-r", "A100:torch-fp32"], env=ENV)
    assert isinstance(r.exception, ConfigError) and "exactly one --setup" in str(r.exception)
    r = runner.invoke(app, ["consistency", "--top", "0"], env=ENV)
    assert isinstance(r.exception, ConfigError) and "--top" in str(r.exception)


def test_report_section_lists_repeats_and_outliers_per_gpu_pair(energy):
    from joulebench.analysis.report.energy_sections import consistency_section as _consistency

    html, summary = _consistency(energy, None, ["A100:torch-fp32", "H100:torch-fp32", "H200:torch-fp32"])
    assert [r["setup"] for r in summary["repeatability"]] == ["A100:torch-fp32", "H100:torch-fp32"]
    assert "No workload measured under two or more tags on: H200:torch-fp32." in html
    assert "workloads whose tags disagree by more than 1.1×" in html and "vit_small" in html
    pairs = [(o["setup"], o["reference"]) for o in summary["ratio_outliers"]]
    assert pairs == [("H100:torch-fp32", "A100:torch-fp32")]  # H200 shares 2 models: too few, said in a warning
    assert (summary["ratio_outliers"][0]["low"], summary["ratio_outliers"][0]["high"]) == (1, 1)
    assert "ratio-outliers-H100:torch-fp32-A100:torch-fp32.csv" in html
    assert html.count("needs at least 3 models") == 2


def test_model_checks_name_the_failed_checks(energy):
    from joulebench.analysis.consistency import model_checks

    checks = model_checks(energy, "vit_small.fb_in1k", 224)
    assert [(c["check"], c["setup"]) for c in checks] == [
        ("repeats", "A100:torch-fp32"),
        ("repeats", "H100:torch-fp32"),
        ("ratio", "H100:torch-fp32"),  # H200 shares two models with each: no typical ratio, no check
    ]
    assert checks[0]["spread"] == pytest.approx(2.0) and checks[1]["spread"] == pytest.approx(1.6)
    assert "with two tags the data cannot tell which is wrong" in checks[0]["message"]
    assert checks[2]["reference"] == "A100:torch-fp32" and checks[2]["ratio"] == pytest.approx(0.25)
    assert checks[2]["median_ratio"] == pytest.approx(0.8)
    assert model_checks(energy, "resnet18.tv_in1k", 224) == []  # spread exactly 1.1, ratio 0.8
    assert [c["check"] for c in model_checks(energy, "convnext_tiny.fb_in1k", 224)] == ["ratio"]


def test_model_checks_tell_the_odd_tag_among_three():
    from joulebench.analysis.consistency import model_checks

    e = rows("A100:torch-fp32", {"net.a": 0.100, "net.b": 0.101, "net.c": 0.050})
    odd = model_checks(e, "net.c", 224)[0]["message"]
    assert "the 3 tags of its workload read 50-101 mJ (median 100)" in odd and "odd one out (0.50x the median)" in odd
    ok = model_checks(e, "net.a", 224)[0]["message"]
    assert "agrees with the median; the odd one(s): net.c 50 mJ" in ok
    both_sides = rows("A100:torch-fp32", {"net.a": 0.100, "net.b": 0.107, "net.c": 0.094})
    msg = model_checks(both_sides, "net.a", 224, threshold=1.1)[0]["message"]
    assert "the spread comes from readings on both sides of it" in msg


def test_drop_suspect_removes_only_the_flagged_rows_of_one_setup(energy):
    from joulebench.analysis.consistency import drop_suspect

    kept, why = drop_suspect(energy, "H100:torch-fp32")
    # both vit_small tags disagree (only two: either may be wrong); vit_small.fb and convnext_tiny are ratio outliers
    assert sorted(why["model"]) == ["convnext_tiny.fb_in1k", "vit_small.augreg_in1k", "vit_small.fb_in1k"]
    assert "; " in why.set_index("model").loc["vit_small.fb_in1k", "message"]  # two checks, one row
    assert len(energy) - len(kept) == 3
    assert set(kept[kept.setup == "H100:torch-fp32"]["model"]) == {
        "resnet18.a1_in1k",
        "resnet18.tv_in1k",
        "resnet18.gluon_in1k",
    }
    assert len(kept[kept.setup == "A100:torch-fp32"]) == 6  # the references stay
    with pytest.raises(ConfigError, match="Available setups"):
        drop_suspect(energy, "B200:torch-fp32")


def timed(setup: str, limit_w: float, readings: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Rows with (energy per image, throughput) per model, so each implies a power."""
    return rows(setup, {m: e for m, (e, _) in readings.items()}).assign(
        throughput_ips=[t for _, t in readings.values()], power_limit_w=limit_w
    )


@pytest.fixture
def powered():
    a = timed(  # every A100 reading implies 240 W, 96 % of 250 W
        "A100:torch-fp32",
        250.0,
        {"net1.a": (0.010, 24000), "net2.a": (0.020, 12000), "net3.a": (0.040, 6000), "net4.a": (0.010, 24000)},
    )
    h = timed(
        "H100:torch-fp32",
        300.0,
        {
            "net1.a": (0.008, 36000),  # 288 W = 96 % of 300 W; ratio 0.8
            "net2.a": (0.016, 18000),  # the same
            "net3.a": (0.010, 9000),  # ratio 0.25 at 90 W (30 %): its power is what is off
            "net4.a": (0.024, 12000),  # ratio 2.4 at 288 W: it is slower on this GPU, the power is ordinary
        },
    )
    return pd.concat([a, h], ignore_index=True)


def test_power_fractions_are_energy_times_throughput_over_the_limit(powered):
    from joulebench.analysis.consistency import power_fractions

    f = power_fractions(powered).set_index(["setup", "model"])
    assert f.loc[("H100:torch-fp32", "net3.a"), "power_w"] == pytest.approx(90.0)
    assert f.loc[("H100:torch-fp32", "net3.a"), "power_fraction"] == pytest.approx(0.30)
    assert f.loc[("A100:torch-fp32", "net1.a"), "power_fraction"] == pytest.approx(0.96)
    assert power_fractions(powered.drop(columns="throughput_ips")).empty  # nothing to judge by


def test_ratio_outliers_name_the_reading_whose_implied_power_is_off(powered):
    o = ratio_outliers(powered, "H100:torch-fp32", "A100:torch-fp32")
    assert (o.median_ratio, o.median_power_ratio, o.low, o.high, o.blamed) == pytest.approx((0.8, 1.0, 1, 1, 1))
    t = o.outliers.set_index("model")
    assert t.loc["net3.a", "off_by"] == pytest.approx(0.3125) and t.loc["net3.a", "power_off_by"] == pytest.approx(
        0.3125
    )
    assert t.loc["net3.a", "blame"] == "setup"
    assert t.loc["net4.a", "power_off_by"] == pytest.approx(1.0) and t.loc["net4.a", "blame"] == ""  # speed
    back = ratio_outliers(powered, "A100:torch-fp32", "H100:torch-fp32").outliers.set_index("model")
    assert back.loc["net3.a", "blame"] == "reference" and back.loc["net4.a", "blame"] == ""
    blind = ratio_outliers(powered.drop(columns="power_limit_w"), "H100:torch-fp32", "A100:torch-fp32")
    assert (blind.median_power_ratio, blind.blamed, list(blind.outliers["blame"])) == (None, 0, ["", ""])


def test_model_checks_say_which_reading_the_power_points_to(powered):
    from joulebench.analysis.consistency import model_checks

    (off,) = model_checks(powered, "net3.a", 224)
    assert off["blame"] == "H100:torch-fp32"
    assert off["message"] == (
        "H100:torch-fp32 / A100:torch-fp32 energy is 0.25 for this model but 0.80 typically (4 models): the "
        "H100:torch-fp32 reading is off: it implies 90 W, 30 % of its power limit (median of its setup: 96 %), "
        "against 240 W, 96 % of its power limit (median of its setup: 96 %) on A100:torch-fp32"
    )
    (speed,) = model_checks(powered, "net4.a", 224)
    assert speed["blame"] is None
    assert speed["message"].endswith(
        "both readings imply their setups' usual power (96 % and 96 % of the limit), so it runs at an unusual "
        "speed on one GPU"
    )


def test_suspect_readings_flag_only_the_reading_the_power_points_to(powered):
    from joulebench.analysis.consistency import suspect_readings

    s = suspect_readings(powered)
    got = sorted(zip(s["setup"], s["model"], s["check"], strict=True))
    assert got == [  # net3: only the H100 reading; net4 (a speed difference): both, as without power data
        ("A100:torch-fp32", "net4.a", "ratio"),
        ("H100:torch-fp32", "net3.a", "ratio"),
        ("H100:torch-fp32", "net4.a", "ratio"),
    ]
    msg = s[(s.model == "net3.a")]["message"].iloc[0]
    assert msg == (
        "0.25x its energy on A100:torch-fp32 (typically 0.80x over 4 models); it implies 90 W, 30 % of its power "
        "limit (median of its setup: 96 %)"
    )


def test_of_two_disagreeing_tags_the_power_names_the_wrong_one():
    from joulebench.analysis.consistency import model_checks, suspect_readings

    e = timed(
        "H100:torch-fp32",
        300.0,
        {
            "net1.a": (0.008, 36000),  # 288 W: the setup's usual 96 %
            "net2.a": (0.016, 18000),
            "net5.a": (0.050, 5760),  # 288 W
            "net5.b": (0.015, 5760),  # same workload, same speed, 86.4 W: this reading is wrong
            "net6.a": (0.050, 5760),  # 288 W
            "net6.b": (0.060, 1440),  # 86.4 W but more energy: slower, not under-counted; undecided
        },
    )
    s = suspect_readings(e)
    assert sorted(s["model"]) == ["net5.b", "net6.a", "net6.b"]
    assert s.set_index("model").loc["net5.b", "message"] == (
        "the 2 tags of its workload (net5@224) read 15 and 50 mJ; this one implies 86 W, 29 % of its power limit "
        "(median of its setup: 96 %): it is the wrong one"
    )
    (right,) = model_checks(e, "net5.a", 224)
    assert "the other tag, net5.b, is wrong: it implies 86 W, 29 %" in right["message"]
    assert "against 288 W, 96 % of its power limit (median of its setup: 96 %) for this one" in right["message"]
    (wrong,) = model_checks(e, "net5.b", 224)
    assert "this reading is wrong: it implies 86 W" in wrong["message"]
    (undecided,) = model_checks(e, "net6.a", 224)
    assert "with two tags the data cannot tell which is wrong" in undecided["message"]


def test_cli_consistency_shows_which_reading_is_off(monkeypatch, powered):
    twin = timed("H100:torch-fp32", 300.0, {"net1.b": (0.008, 36000)})  # a repeat, so -s H100 has one to show
    energy = pd.concat([powered, twin], ignore_index=True)
    monkeypatch.setattr(cmd, "load", lambda db: SimpleNamespace(energy=energy, catalogue=None))
    args = ["consistency", "-s", "H100:torch-fp32", "-r", "A100:torch-fp32"]
    r = CliRunner().invoke(app, args, env=ENV)
    assert r.exit_code == 0, r.output
    assert "implied power shows one reading off for 1" in " ".join(r.output.split())  # the title may wrap
    line = next(x for x in r.output.splitlines() if "net3.a" in x)
    assert "0.31x" in line and "H100:torch-fp32" in line
    out = json.loads(CliRunner().invoke(app, [*args, "--json"], env=ENV).stdout)["ratio_outliers"]
    assert out["blamed"] == 1 and [m["blame"] for m in out["outliers"]] == ["setup", ""]


@pytest.mark.slow
def test_the_papers_low_h100_reading_of_eva_large_is_named_not_its_twin():
    from joulebench.analysis.consistency import model_checks
    from joulebench.data import load_dataset

    ds = load_dataset(data=[])
    bad, twin = "eva_large_patch14_196.in22k_ft_in22k_in1k", "eva_large_patch14_196.in22k_ft_in1k"
    repeats = [c for c in model_checks(ds.energy, twin, 196, ds.catalogue) if c["check"] == "repeats"]
    assert len(repeats) == 1 and f"the other tag, {bad}, is wrong: it implies 91 W, 29 %" in repeats[0]["message"]
    ratio = [c for c in model_checks(ds.energy, bad, 196, ds.catalogue) if c["check"] == "ratio"]
    assert [c["blame"] for c in ratio] == ["H100:torch-fp32"]


def test_pooled_sd_log_pools_groups_and_leaves_out_singletons_and_missing_keys():
    log_e = pd.Series([0.0, 0.2, 1.0, 1.4, 1.8, 5.0, 9.0])
    board = pd.Series(["a", "a", "b", "b", "b", "c", None])  # c is alone; the last row has no group
    # squares about each group's mean: 0.02 (a) + 0.32 (b); dof 1 + 2
    sd, dof = pooled_sd_log(log_e, board)
    assert dof == 3 and sd == pytest.approx(math.sqrt(0.34 / 3))
    nested, dof = pooled_sd_log(log_e, [pd.Series(["w"] * 7), board])  # a list of keys nests the groups
    assert dof == 3 and nested == pytest.approx(sd)
    lone, dof = pooled_sd_log(pd.Series([1.0, 2.0]), pd.Series(["a", "b"]))
    assert dof == 0 and math.isnan(lone)
