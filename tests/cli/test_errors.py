"""Bad input gives a one-line error and exit status 2 through the real entry point, never a traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from factories import run, task
from joulebench.cli import app, loading, main
from joulebench.store import Store


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOULEBENCH_DB", "")
    monkeypatch.setenv("JOULEBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")


def fails(args, capsys):
    """Run the CLI's entry point; return its error output after checking it exited 2 without a traceback."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert "Traceback" not in err and err.strip()
    return err


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "results.db"
    with Store(path) as s:
        s.add_run(run())
        s.save_task(*task(model="resnet50.a1_in1k"))
    return path


def test_report_out_is_checked_before_any_work(tmp_path, capsys, monkeypatch):
    def no_work(db):
        raise AssertionError("the dataset was loaded before the output path was checked")

    monkeypatch.setattr(loading, "load", no_work)
    err = fails(["report", "--out", tmp_path / "missing" / "r.html"], capsys)
    assert "missing" in err and "does not exist" in err
    err = fails(["report", "--out", "/proc/joulebench-report.html"], capsys)
    assert "/proc/joulebench-report.html" in err and "cannot write" in err
    assert "is a folder" in fails(["report", "--out", tmp_path], capsys)


def test_meter_trace_is_checked_before_the_command_runs(tmp_path, capsys):
    marker = tmp_path / "ran"
    err = fails(["meter", "--meter", "sim", "--idle", "0", "--trace", "/proc/t.csv", "--", "touch", marker], capsys)
    assert "--trace /proc/t.csv" in err and not marker.exists()


def test_data_import_names_file_line_and_encoding(tmp_path, capsys):
    from joulebench.data.importer import PAPER_SETUPS

    ref = tmp_path / "ref"
    (ref / "paper-2025").mkdir(parents=True)
    (ref / "timm").mkdir()
    bad = ref / "paper-2025" / PAPER_SETUPS[0].file
    header = b"Model Name,Input Size,Throughput,Latency,Energy,Max BS,Optimal BS\n"
    bad.write_bytes(header + b"resnet50,224,1,1,1,8,8\nr\xe9snet,224,1,1,1,8,8\n")
    err = fails(["data", "import", ref, "--out", tmp_path / "out"], capsys)
    assert str(bad) in err and "line 3" in err and "0xe9" in err and "UTF-8" in err


def test_max_energy_needs_a_unit_everywhere(capsys):
    for args in (["models", "--setup", "A100:tensorrt-fp16"], ["rank", "-s", "A100:tensorrt-fp16"]):
        assert "name the unit, e.g. 20mJ or 20J" in fails([*args, "--max-energy", "20"], capsys)


def test_a_trailing_word_is_not_taken_silently(capsys):
    err = fails(["models", "--setup", "A100:tensorrt-fp16", "--max-energy", "20mJ", "potatoes"], capsys)
    assert "no model name matches 'potatoes'" in err


@pytest.mark.parametrize(
    "args",
    [
        ["models", "--limit", "-1"],
        ["rank", "-s", "A100:torch-fp32", "--limit", "-1"],
        ["models", "--year-min", "2023", "--year-max", "2020"],
        ["frontier", "-s", "A100:torch-fp32", "--target", "200"],
        ["rank", "-s", "A100:torch-fp32", "--max-energy", "-5mJ"],
        ["rank", "-s", "A100:torch-fp32", "--max-params", "-5M"],
        ["rank", "-s", "A100:torch-fp32", "--max-latency", "-5ms"],
        ["rank", "-s", "A100:torch-fp32", "--max-memory", "-1GB"],
        ["rank", "-s", "A100:torch-fp32", "--intensity", "-400"],
        ["models", "--min-accuracy", "-5"],
        ["panel", "-s", "A100:torch-fp32", "--lowest", "-3"],
        ["results", "--limit", "-1"],
        ["stats", "resnet50.a1_in1k", "--workers", "0"],
    ],
)
def test_out_of_range_values_are_refused_with_exit_2(args, capsys):
    fails(args, capsys)


def test_models_list_lists_as_the_hint_says():
    r = CliRunner().invoke(app, ["models", "list", "--limit", "5", "--json"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)) == 5


def test_results_hint_to_measure_names_a_runtime(tmp_path):
    with Store(tmp_path / "empty.db"):
        pass
    r = CliRunner().invoke(app, ["results", "--db", str(tmp_path / "empty.db")])
    assert r.exit_code == 0 and "`joulebench measure MODEL --runtime torch-fp32`" in r.output


def test_estimate_on_a_misspelt_model_is_short(capsys):
    err = fails(["estimate", "resnet50.a1_in1kk", "-s", "A100:torch-fp32"], capsys)
    assert "Did you mean resnet50.a1_in1k" in err and "joulebench models" in err and len(err) < 400


def test_estimate_takes_an_architecture_as_show_does(capsys):
    err = fails(["estimate", "resnet50", "-s", "A100:torch-fp32"], capsys)
    assert "'resnet50' names 19 pretrained configurations; pick one: resnet50.a1_in1k" in err
    r = CliRunner().invoke(app, ["estimate", "botnet26t_256", "-s", "A100:torch-fp32", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["model"].startswith("botnet26t_256.")


def test_export_takes_out_and_dash_means_standard_output(db, tmp_path):
    r = CliRunner().invoke(app, ["export", "--out", "-", "--db", str(db)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("model,img_size,") and lines[1].startswith("resnet50.a1_in1k,224,")
    r = CliRunner().invoke(app, ["export", "-o", str(tmp_path / "s.csv"), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "s.csv").read_text().splitlines() == lines


@pytest.mark.slow
def test_stats_takes_any_timm_architecture():
    from joulebench.models.catalogue import load_catalogue

    assert not load_catalogue()["model"].str.startswith("test_vit4").any()  # not a pretrained configuration
    r = CliRunner().invoke(app, ["stats", "test_vit4", "--json"])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.stdout)
    assert row["model"] == "test_vit4" and row["params"] > 0 and row["img_size"] > 0


def test_show_on_an_architecture_says_what_to_run(capsys):
    err = fails(["show", "test_vit4"], capsys)
    assert "`joulebench stats test_vit4`" in err and "`joulebench measure test_vit4 --runtime torch-fp32`" in err


def test_stats_refuses_a_tag_timm_does_not_have(capsys):
    assert "unknown model 'test_vit4.bogus'" in fails(["stats", "test_vit4.bogus"], capsys)
