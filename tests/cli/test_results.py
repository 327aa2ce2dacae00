"""`joulebench results` and `joulebench export` through typer's CliRunner."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from factories import run, task
from joulebench import cli
from joulebench.cli import app
from joulebench.errors import ConfigError, StoreError
from joulebench.meters.base import WindowResult
from joulebench.store import Failure, Store

ENV = {"COLUMNS": "250", "JOULEBENCH_DB": ""}


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "results.db"
    with Store(path) as s:
        s.add_run(run())
        s.add_run(run("run2", meter="sim", gpu="NVIDIA A100-SXM4-80GB", uuid="GPU-b"))
        s.save_task(*task(model="resnet50.a1_in1k"))
        s.save_task(*task(model="resnet18.a1_in1k", runtime="torch-fp16"))
        ms, summary, failures = task(run_id="run2", model="vit_tiny.augreg_in21k", meter="sim", gpu=None, uuid=None)
        failures = [Failure("run2", "vit_tiny.augreg_in21k", 224, "torch-fp32", "compile", "TensorRT build failed")]
        s.save_task(ms, summary, failures)
        s.save_window(run("win"), "python train.py", WindowResult("nvml", "counter", 42.0, 2.0), 0)
    return path


def invoke(runner, *args, **env):
    return runner.invoke(app, [str(a) for a in args], env={**ENV, **env})


def test_table_of_summaries(runner, db):
    r = invoke(runner, "results", "--db", db)
    assert r.exit_code == 0, r.output
    out = r.stdout
    for text in ("resnet50.a1_in1k", "resnet18.a1_in1k", "vit_tiny.augreg_in21k", "torch-fp16", "H200", "A100"):
        assert text in out
    # energy per image in mJ: task() gives 0.01 J / sqrt(64) at the optimal batch = 1.25 mJ
    assert "1.25" in out
    assert "43%" in out  # 300 W of a 700 W limit
    assert "simulated meter" in out  # the sim row is marked and explained
    vit_line = next(line for line in out.splitlines() if "vit_tiny" in line)
    assert "sim" in vit_line
    resnet_line = next(line for line in out.splitlines() if "resnet50" in line)
    assert " sim " not in resnet_line and "nvml" in resnet_line


def test_json_rows_are_si(runner, db):
    r = invoke(runner, "results", "--db", db, "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [row["model"] for row in rows] == ["resnet18.a1_in1k", "resnet50.a1_in1k", "vit_tiny.augreg_in21k"]
    resnet = rows[1]
    assert resnet["energy_per_image_j"] == pytest.approx(0.01 / 8)
    assert resnet["latency_mean_s"] == 0.05 and resnet["throughput_ips"] == 6400.0
    vit = rows[2]
    assert vit["meter"] == "sim" and vit["gpu_name"] == "NVIDIA A100-SXM4-80GB"  # from its run


@pytest.mark.parametrize(
    ("args", "models"),
    [
        (["--model", "resnet*"], ["resnet18.a1_in1k", "resnet50.a1_in1k"]),
        (["--model", "resnet50"], ["resnet50.a1_in1k"]),
        (["--runtime", "torch-fp16"], ["resnet18.a1_in1k"]),
        (["--gpu", "a100"], ["vit_tiny.augreg_in21k"]),
        (["--meter", "nvml"], ["resnet18.a1_in1k", "resnet50.a1_in1k"]),
        (["--run", "run2"], ["vit_tiny.augreg_in21k"]),
        (["--status", "failed"], []),
    ],
)
def test_filters(runner, db, args, models):
    r = invoke(runner, "results", "--db", db, "--json", *args)
    assert r.exit_code == 0, r.output
    assert [row["model"] for row in json.loads(r.stdout)] == models


def test_no_match_says_so(runner, db):
    r = invoke(runner, "results", "--db", db, "--model", "convnext*")
    assert r.exit_code == 0
    assert "no summaries" in r.stderr and "--model convnext*" in r.stderr


def test_failures_with_reasons(runner, db):
    r = invoke(runner, "results", "--db", db, "--failures")
    assert r.exit_code == 0, r.output
    assert "TensorRT build failed" in r.stdout and "out of memory" in r.stdout and "compile" in r.stdout
    rows = json.loads(invoke(runner, "results", "--db", db, "--failures", "--json", "--gpu", "A100").stdout)
    assert [(f["reason"], f["stage"]) for f in rows] == [("TensorRT build failed", "compile")]


def test_batches(runner, db):
    r = invoke(runner, "results", "--db", db, "--batches", "--model", "resnet50*")
    assert r.exit_code == 0, r.output
    assert "Per-batch" in r.stdout
    rows = json.loads(invoke(runner, "results", "--db", db, "--batches", "--json", "--model", "resnet50*").stdout)
    assert [m["batch_size"] for m in rows] == [1, 8, 64]
    assert rows[0]["energy_per_image_j"] == pytest.approx(0.01)


def test_batches_name_the_launch_bound_windows_with_the_cards_utilisation(runner, tmp_path, db):
    import dataclasses

    path = tmp_path / "lb.db"
    ms, summary, failures = task(model="mobilenetv3_large_100.ra_in1k")
    utils = {1: 13.0, 8: 51.0, 64: 97.0}  # the card waited on the host at 1 and 8, not at 64
    ms = [dataclasses.replace(m, trace_summary={"gpu_util_pct_mean": utils[m.batch_size]}) for m in ms]
    with Store(path) as s:
        s.add_run(run())
        s.save_task(ms, summary, failures)
    out = invoke(runner, "results", "--db", path, "--batches").stdout
    lines = {int(line.split()[5]): line for line in out.splitlines() if "mobilenetv3" in line}
    assert "launch-bound 13 %" in lines[1] and "launch-bound 51 %" in lines[8] and "launch-bound" not in lines[64]
    assert "follows this host's CPU" in out  # the caption says what it means
    # a store whose windows recorded no utilisation: no marks, no note
    plain = invoke(runner, "results", "--db", db, "--batches").stdout
    assert "resnet50.a1_in1k" in plain and "launch-bound" not in plain


def test_windows(runner, db):
    r = invoke(runner, "results", "--db", db, "--windows")
    assert r.exit_code == 0, r.output
    assert "python train.py" in r.stdout and "42 J" in r.stdout


def test_limit(runner, db):
    r = invoke(runner, "results", "--db", db, "--limit", "1")
    assert r.exit_code == 0, r.output
    assert "showing 1 of 3" in r.stdout
    assert len(json.loads(invoke(runner, "results", "--db", db, "--limit", "2", "--json").stdout)) == 2


def test_one_view_at_a_time(runner, db):
    r = invoke(runner, "results", "--db", db, "--failures", "--batches")
    assert isinstance(r.exception, ConfigError)


def test_missing_database_is_explained_and_not_created(runner, tmp_path):
    path = tmp_path / "nothing.db"
    for args in (["results", "--db", path], ["export", tmp_path / "o.csv", "--db", path]):
        r = invoke(runner, *args)
        assert isinstance(r.exception, StoreError)
        assert "no results" in str(r.exception) and "joulebench measure" in str(r.exception)
    assert not path.exists() and not (tmp_path / "o.csv").exists()


def test_database_from_environment(runner, db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke(runner, "results", "--json", JOULEBENCH_DB=str(db))
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)) == 3


def test_cli_prints_store_errors_as_one_line(tmp_path, capsys):
    bad = tmp_path / "notes.db"
    bad.write_text("hello")
    with pytest.raises(SystemExit) as e:
        cli.main(["results", "--db", str(bad)])
    assert e.value.code == StoreError.exit_code
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not a joulebench results database" in err and "--db" in err
    assert len(err.splitlines()) == 1
    assert bad.read_text() == "hello"


def test_export_csv_and_parquet(runner, db, tmp_path):
    out = tmp_path / "mine.csv"
    r = invoke(runner, "export", out, "--db", db)
    assert r.exit_code == 0, r.output
    assert "wrote 3 summaries rows" in r.stderr
    df = pd.read_csv(out)
    assert list(df.columns[:10]) == [
        "model",
        "img_size",
        "gpu_name",
        "runtime",
        "precision",
        "energy_per_image_j",
        "throughput_ips",
        "latency_mean_s",
        "optimal_batch",
        "meter",
    ]
    with Store.open_readonly(db) as s:
        want = s.summaries_frame()
    assert sorted(df.model) == sorted(want.model)
    assert df.set_index("model").energy_per_image_j.to_dict() == want.set_index("model").energy_per_image_j.to_dict()

    pq_out = tmp_path / "batches.data"
    r = invoke(
        runner, "export", pq_out, "--db", db, "--table", "measurements", "--format", "parquet", "--model", "resnet*"
    )
    assert r.exit_code == 0, r.output
    got = pd.read_parquet(pq_out)
    assert len(got) == 6 and set(got.model) == {"resnet18.a1_in1k", "resnet50.a1_in1k"}


def test_export_bad_extension(runner, db, tmp_path):
    r = invoke(runner, "export", tmp_path / "x.txt", "--db", db)
    assert isinstance(r.exception, ConfigError) and "--format" in str(r.exception)


def test_usage_error_is_one_message_not_a_traceback():
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "joulebench", "results", "--no-such-flag"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 2
    assert "No such option" in r.stderr and "Traceback" not in r.stderr
