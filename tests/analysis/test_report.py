"""The HTML report and the analysis commands on a small synthetic dataset (CLI through typer's CliRunner)."""

from __future__ import annotations

import base64
import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

import joulebench.cli.loading as cmd
from factories import analysis_dataset, run, task
from joulebench.cli import app
from joulebench.cli.options import parse_count
from joulebench.errors import ConfigError
from joulebench.store import Store

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

ENV = {"COLUMNS": "250", "JOULEBENCH_DB": ""}


@pytest.fixture(scope="module")
def ds():
    return analysis_dataset()


@pytest.fixture
def runner(monkeypatch, ds):
    monkeypatch.setattr(cmd, "load", lambda db: ds)
    return CliRunner()


@pytest.mark.slow
def test_report_html_is_self_contained_and_escaped(ds):
    from joulebench.analysis.report import build_report

    m = pd.DataFrame([r.to_dict() for r in task(batches=(1, 8, 64, 256))[0]])
    m["power_limit_w"] = 700.0
    rep = build_report(
        ds.energy,
        ds.accuracy,
        ds.catalogue,
        setups=["A100:torch-fp32", "A100:tensorrt-fp16"],
        measurements=m,
        intensity_g_per_kwh=400,
        price_per_kwh=0.3,
        currency="EUR",
        cv_folds=3,
    )
    html = rep.html
    assert "<script>alert(1)</script>" not in html
    assert "evil&lt;script&gt;" in html
    assert not re.search(r"(src|href)=['\"]https?://", html)  # nothing loaded from the network
    imgs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(imgs) >= 6 and base64.b64decode(imgs[0])[:4] == b"\x89PNG"
    for section in (
        "Energy against ImageNet",
        "Robustness",
        "Cross-setup agreement",
        "Energy estimators",
        "Batch size",
        "Consistency of the energy data",
    ):
        assert section in html
    assert "No workload measured under two or more tags on: A100:torch-fp32, A100:tensorrt-fp16." in html
    assert "batch-curves.csv" in html and "energy-accuracy-A100:torch-fp32.csv" in html
    s = rep.summary
    assert s["setups"] == ["A100:torch-fp32", "A100:tensorrt-fp16"]
    assert s["per_setup"]["A100:torch-fp32"]["models"] == 36
    assert s["runtime_reduction"][0]["geomean_factor"] == pytest.approx(4.0, rel=0.15)
    assert {r["setup_a"] for r in s["correlations"]} == {"A100:torch-fp32"}


@pytest.mark.slow
def test_report_without_measurements_says_so(ds):
    from joulebench.analysis.report import build_report

    rep = build_report(ds.energy, ds.accuracy, ds.catalogue, setups=["H100:torch-fp32"], cv_folds=3)
    assert "No per-batch measurements" in rep.html
    assert "Needs at least two setups" in rep.html


def test_report_unknown_setup(ds):
    from joulebench.analysis.report import build_report

    with pytest.raises(ConfigError, match="Available setups: A100:tensorrt-fp16, A100:torch-fp32, H100"):
        build_report(ds.energy, ds.accuracy, setups=["B200:torch-fp32"])


@pytest.mark.slow
def test_cli_report_writes_file_with_store_curves(runner, tmp_path):
    db = tmp_path / "r.db"
    with Store(db) as s:
        s.add_run(run())
        s.save_task(*task(batches=(1, 8, 64)))
    out = tmp_path / "rep.html"
    r = runner.invoke(
        app,
        ["report", "-s", "H100:tensorrt-fp16", "--out", str(out), "--db", str(db), "--json"],
        env=ENV,
    )
    assert r.exit_code == 0, r.output
    html = out.read_text(encoding="utf-8")
    assert "batch-curves.csv" in html and "power_limit_w" in html
    assert json.loads(r.stdout)["summary"]["setups"] == ["H100:tensorrt-fp16"]


def test_cli_rank_json_and_thresholds(runner):
    r = runner.invoke(
        app,
        [
            "rank",
            "--setup",
            "A100:tensorrt-fp16",
            "--min-accuracy",
            "60",
            "--max-latency",
            "1s",
            "--weight",
            "0.3",
            "--limit",
            "3",
            "--intensity",
            "400",
            "--price",
            "0.3",
            "--currency",
            "EUR",
            "--json",
        ],
        env=ENV,
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["weight"] == 0.3 and len(out["models"]) == 3 and out["currency"] == "EUR"
    first = out["models"][0]
    assert first["rank"] == 1
    assert first["kg_co2e_per_million"] == pytest.approx(first["energy_per_image_j"] / 3.6 * 0.4)
    assert [m["score"] for m in out["models"]] == sorted((m["score"] for m in out["models"]), reverse=True)


def test_cli_rank_several_testsets_average(runner, ds):
    r = runner.invoke(app, ["rank", "-s", "A100:torch-fp32", "-t", "imagenet-r", "-t", "sketch", "--json"], env=ENV)
    out = json.loads(r.stdout)
    m = out["models"][0]
    assert m["accuracy"] == pytest.approx((m["imagenet-r"] + m["sketch"]) / 2)


def test_cli_rank_empty_result_says_why(runner):
    r = runner.invoke(
        app, ["rank", "-s", "A100:torch-fp32", "--min-accuracy", "99", "--max-energy", "1uJ", "--json"], env=ENV
    )
    out = json.loads(r.stdout)
    assert out["models"] == [] and out["reason"].startswith("no model passes the thresholds: min accuracy 99%")
    plain = runner.invoke(app, ["rank", "-s", "A100:torch-fp32", "--max-params", "1k"], env=ENV)
    assert "max params 1000 removed 36 of 36" in plain.output


def test_cli_bad_setup_and_testset_list_the_options(runner):
    r = runner.invoke(app, ["rank", "-s", "A100:torch"], env=ENV)
    assert r.exit_code != 0 and "Available setups" in str(r.exception)
    r = runner.invoke(app, ["rank", "-s", "A100:torch-fp32", "-t", "imagenet-c"], env=ENV)
    assert isinstance(r.exception, ConfigError) and "Available test sets" in str(r.exception)


def test_cli_estimate_frontier_compare(runner):
    r = runner.invoke(app, ["estimate", "fam1_1.tag", "--setup", "H100:tensorrt-fp16", "--json"], env=ENV)
    assert r.exit_code == 0, r.output
    est = json.loads(r.stdout)
    assert est["measured_j"] > 0 and all(
        e["energy_per_image_j"] is None or e["energy_per_image_j"] > 0 for e in est["estimates"]
    )
    r = runner.invoke(
        app, ["frontier", "-s", "A100:torch-fp32", "--target", "65", "--target", "100", "--json"], env=ENV
    )
    fr = json.loads(r.stdout)
    acc = [m["accuracy"] for m in fr["frontier"]]
    assert acc == sorted(acc) and "outside" in fr["predictions"][1]["error"]
    r = runner.invoke(app, ["compare", "-b", "A100:torch-fp32", "-o", "A100:tensorrt-fp16", "--json"], env=ENV)
    assert json.loads(r.stdout)["geomean_factor"] == pytest.approx(4.0, rel=0.15)


def test_parse_count():
    assert parse_count("50M") == 50e6 and parse_count("1.5B") == 1.5e9 and parse_count("300k") == 3e5
    with pytest.raises(ConfigError, match="50M"):
        parse_count("lots")


def test_cli_missing_db_is_a_clear_error(monkeypatch):
    r = CliRunner().invoke(app, ["rank", "-s", "A100:torch-fp32", "--db", "/nonexistent/x.db"], env=ENV)
    assert isinstance(r.exception, ConfigError) and "does not exist" in str(r.exception)
