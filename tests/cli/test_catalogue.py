"""``joulebench models``, ``show``, ``stats`` and ``data`` through the CLI."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pandas")
from typer.testing import CliRunner  # noqa: E402

from joulebench.cli import app  # noqa: E402

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./joulebench.db, no repository data/ lookups through cwd
    monkeypatch.setenv("JOULEBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("JOULEBENCH_DB", raising=False)
    monkeypatch.delenv("JOULEBENCH_DATA", raising=False)
    # the shipped project datasets would add setups: test the reference alone
    monkeypatch.setattr("joulebench.data.dataset.DATASETS", tmp_path / "no-data")


def _json(args):
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_models_filters_and_sorts():
    rows = _json(["models", "--family", "convnext", "--max-params", "30M", "--sort", "accuracy", "--limit", "0",
                  "--json"])  # fmt: skip
    assert rows and all(r["family"] == "convnext" for r in rows)
    assert all(r["params"] is None or r["params"] <= 30e6 for r in rows)
    top1 = [r["top1"] for r in rows if r["top1"] is not None]
    assert top1 == sorted(top1, reverse=True)


def test_models_energy_filter_on_a_setup():
    rows = _json(["models", "--type", "cnn", "--setup", "A100:tensorrt-fp16", "--max-energy", "5mJ", "--sort",
                  "energy", "--limit", "0", "--json"])  # fmt: skip
    assert rows
    energies = [r["energy_per_image_j"] for r in rows]
    assert all(e <= 5e-3 for e in energies) and energies == sorted(energies)
    assert all(r["energy_source"] == "hidden-joules-2025" for r in rows)


def test_models_year_and_accuracy_filters():
    rows = _json(["models", "--year-min", "2022", "--year-max", "2023", "--min-accuracy", "85", "--testset",
                  "imagenet", "--limit", "0", "--json"])  # fmt: skip
    assert rows and all(2022 <= r["year"] <= 2023 and r["top1"] >= 85 for r in rows)


def test_models_table_renders():
    r = runner.invoke(app, ["models", "resnet50.", "--setup", "H100:torch-fp32", "--limit", "3"])
    assert r.exit_code == 0, r.output
    assert "resnet50." in r.output and "model configuration" in r.output


def test_energy_without_setup_is_an_error():
    r = runner.invoke(app, ["models", "--max-energy", "20mJ"])
    assert r.exit_code != 0
    assert "--setup" in str(r.exception)


@pytest.mark.slow
def test_show_everything_about_one_configuration():
    info = _json(["show", "resnet50.a1_in1k", "--img-size", "224", "--json"])
    assert info["catalogue"]["family"] == "resnet"
    assert {a["testset"] for a in info["accuracy"]} >= {"imagenet", "imagenet-a", "sketch"}
    assert {e["setup"] for e in info["energy"]} == {
        "A100:torch-fp32", "A100:tensorrt-fp16", "H100:torch-fp32", "H100:tensorrt-fp16"
    }  # fmt: skip
    r = runner.invoke(app, ["show", "resnet50.a1_in1k", "--img-size", "224"])
    assert r.exit_code == 0 and "energy per image" in r.output


def test_show_unknown_model_suggests_names():
    r = runner.invoke(app, ["show", "resnet50.a1_in1kk"])
    assert r.exit_code != 0
    assert "resnet50.a1_in1k" in str(r.exception)


def test_show_architecture_with_many_tags_asks_to_pick():
    r = runner.invoke(app, ["show", "resnet50"])
    assert r.exit_code != 0 and "pick one" in str(r.exception)


@pytest.mark.slow
def test_stats_reads_shipped_or_computes():
    pytest.importorskip("timm")
    first = _json(["stats", "test_vit.r160_in1k", "--json"])  # shipped, cached or computed
    assert first[0]["img_size"] == 160 and first[0]["macs"] > 0 and first[0]["params"] > 0
    computed = _json(["stats", "test_vit", "--img-size", "128", "--json"])  # not shipped at 128 px: computed
    assert computed[0]["method"] == "meta" and computed[0]["img_size"] == 128
    # built for 128 px: fewer position embeddings and tokens than at 160 px
    assert computed[0]["params"] < first[0]["params"] and computed[0]["macs"] < first[0]["macs"]


def test_data_info_lists_setups():
    info = _json(["data", "info", "--json"])
    setups = {r["setup"] for r in info["setups"]}
    assert {"A100:torch-fp32", "H100:tensorrt-fp16"} <= setups
    assert info["sources"]["hidden-joules-2025"]["license"] == "MIT"


@pytest.mark.slow
def test_show_flags_readings_that_disagree_with_identical_workloads():
    # the paper's H100 FP32 reading of resnet50.ram_in1k is half that of the 17 other resnet50@224 tags
    info = _json(["show", "resnet50.ram_in1k", "--img-size", "224", "--json"])
    kinds = [(c["check"], c["setup"]) for c in info["checks"]]
    assert kinds == [("repeats", "H100:torch-fp32"), ("ratio", "H100:torch-fp32")]
    assert "the 18 tags of its workload read 40.6-80.3 mJ" in info["checks"][0]["message"]
    assert "this reading is the odd one out (0.51x the median)" in info["checks"][0]["message"]
    assert info["checks"][1]["reference"] == "A100:torch-fp32" and info["checks"][1]["off_by"] < 1 / 1.5
    sibling = _json(["show", "resnet50.a1_in1k", "--img-size", "224", "--json"])["checks"]
    assert [c["check"] for c in sibling] == ["repeats"]
    assert "agrees with the median; the odd one(s): resnet50.ram_in1k 40.6 mJ" in sibling[0]["message"]
    r = runner.invoke(app, ["show", "resnet50.ram_in1k", "--img-size", "224"], env={"COLUMNS": "250"})
    assert r.exit_code == 0 and "check (repeats): on H100:torch-fp32" in r.output
    clean = _json(["show", "convnext_tiny.in12k_ft_in1k", "--img-size", "288", "--json"])
    assert clean["checks"] == []


@pytest.mark.slow
def test_frontier_and_rank_can_leave_out_suspect_readings():
    from joulebench.analysis.consistency import suspect_readings
    from joulebench.data import load_dataset

    ds = load_dataset()
    flagged = suspect_readings(ds.energy, ds.catalogue)
    flagged = set(zip(*[flagged[flagged.setup == "H100:torch-fp32"][c] for c in ("model", "img_size")], strict=True))
    plain = _json(["frontier", "-s", "H100:torch-fp32", "--json"])
    clean = _json(["frontier", "-s", "H100:torch-fp32", "--drop-suspect", "--json"])
    assert plain["dropped_suspect"] is None
    assert {(d["model"], d["img_size"]) for d in clean["dropped_suspect"]} == flagged
    assert ("eva_large_patch14_196.in22k_ft_in22k_in1k", 196) in flagged
    on_plain = {(m["model"], m["img_size"]) for m in plain["frontier"]}
    on_clean = {(m["model"], m["img_size"]) for m in clean["frontier"]}
    assert on_plain & flagged and not on_clean & flagged  # suspect rows sat on the frontier; now none do
    assert clean["models"] == plain["models"] - len(flagged)
    top = _json(["rank", "-s", "H100:torch-fp32", "--drop-suspect", "--limit", "50", "--json"])
    assert not {(m["model"], m["img_size"]) for m in top["models"]} & flagged
    r = runner.invoke(app, ["rank", "-s", "H100:torch-fp32", "--drop-suspect", "--limit", "3"])
    assert r.exit_code == 0 and f"left out {len(flagged)} suspect reading(s) of H100:torch-fp32" in r.output
