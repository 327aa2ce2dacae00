"""Each result's energy-per-image confidence interval, and its wide-interval flag, wherever results are listed."""

from __future__ import annotations

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from factories import run, task
from joulebench.cli import app
from joulebench.data import load_dataset
from joulebench.store import Store

ENV = {"COLUMNS": "250", "JOULEBENCH_DB": "", "JOULEBENCH_DATA": ""}


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "r.db"
    with Store(path) as s:
        s.add_run(run())
        for model, ci in (("resnet50.a1_in1k", 0.004), ("resnet18.a1_in1k", 0.031), ("vgg16.tv_in1k", None)):
            ms, summary, failures = task(model=model)
            s.save_task(ms, dataclasses.replace(summary, ci95_rel=ci), failures)
    return path


def _invoke(args):
    r = CliRunner().invoke(app, args, env=ENV)
    assert r.exit_code == 0, r.output
    return r


def _line(output, model):
    return next(line for line in output.splitlines() if model in line)


def test_results_shows_each_interval_and_flags_the_wide_one(db):
    out = _invoke(["results", "--db", str(db)]).output
    assert "±CI95" in out
    assert "±0.4%" in _line(out, "resnet50.a1_in1k") and "!" not in _line(out, "resnet50.a1_in1k")
    assert "±3.1% !" in _line(out, "resnet18.a1_in1k")
    assert "±" not in _line(out, "vgg16.tv_in1k")  # unknown: blank
    assert "wider than ±2 %" in out


def test_results_json_carries_the_interval_and_the_flag(db):
    rows = {r["model"]: r for r in json.loads(_invoke(["results", "--db", str(db), "--json"]).stdout)}
    assert rows["resnet18.a1_in1k"]["ci95_rel"] == 0.031 and rows["resnet18.a1_in1k"]["ci95_wide"] is True
    assert rows["resnet50.a1_in1k"]["ci95_wide"] is False and rows["vgg16.tv_in1k"]["ci95_rel"] is None


def test_the_summaries_export_has_the_interval(db, tmp_path):
    import pandas as pd

    _invoke(["export", str(tmp_path / "s.csv"), "--db", str(db)])
    got = dict(zip(pd.read_csv(tmp_path / "s.csv")["model"], pd.read_csv(tmp_path / "s.csv")["ci95_rel"], strict=True))
    assert got["resnet18.a1_in1k"] == 0.031 and got["vgg16.tv_in1k"] != got["vgg16.tv_in1k"]  # NaN: unknown


def test_the_dataset_view_carries_own_intervals_and_none_for_the_paper(db):
    e = load_dataset(db=db, data=[], include_cache=False).energy
    own = e[e.source == "joulebench"].set_index("model")["ci95_rel"]
    assert own["resnet18.a1_in1k"] == 0.031
    assert e[e.source == "hidden-joules-2025"]["ci95_rel"].isna().all()


def test_rank_shows_the_shipped_h200_intervals_and_blank_for_the_paper():
    h200 = json.loads(_invoke(["rank", "-s", "H200:compile-fp16", "-n", "500", "--json"]).stdout)["models"]
    assert h200 and all(m["ci95_rel"] is not None for m in h200)
    assert {m["ci95_wide"] for m in h200} == {True, False}  # the shipped setup has both
    assert all(m["ci95_wide"] == (m["ci95_rel"] > 0.02) for m in h200)
    paper = json.loads(_invoke(["rank", "-s", "H100:torch-fp32", "-n", "5", "--json"]).stdout)["models"]
    assert all(m["ci95_rel"] is None and m["ci95_wide"] is False for m in paper)
    table = _invoke(["rank", "-s", "H100:torch-fp32", "-n", "5"]).output
    assert "±CI95" in table and "±" not in table.replace("±CI95", "")


def test_show_lists_the_interval_per_setup():
    out = _invoke(["show", "resnet50.tv2_in1k"]).output
    assert "±CI95" in out
    assert "±" in _line(out, "H200:torch-fp32").replace("±CI95", "")
    assert "±" not in _line(out, "H100:torch-fp32")


@pytest.mark.slow
def test_the_explorer_payload_has_intervals_for_own_setups_only():
    from joulebench.app.build import build_payload

    payload = build_payload(load_dataset(include_cache=False))
    setups = {s["id"]: s for s in payload["setups"]}
    h200 = setups["H200:compile-fp16"]
    assert len(h200["ci"]) == len(h200["m"]) and all(v is not None for v in h200["ci"])
    assert "ci" not in setups["H100:torch-fp32"] and payload["ci_wide_rel"] == 0.02
