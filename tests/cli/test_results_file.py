"""Every command that reads results finds the results file the same way: --db, $JOULEBENCH_DB, ./joulebench.db."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from factories import run, task
from joulebench.cli import app
from joulebench.errors import ConfigError
from joulebench.store import Store

# Each command that reads the dataset view, with the least arguments it takes.
COMMANDS = {
    "rank": ["rank", "-s", "Z9:torch-fp32"],
    "frontier": ["frontier", "-s", "Z9:torch-fp32"],
    "compare": ["compare", "-b", "Z9:torch-fp32", "-o", "Z9:torch-fp16"],
    "estimate": ["estimate", "resnet50.a1_in1k", "-s", "Z9:torch-fp32"],
    "consistency": ["consistency"],
    "panel": ["panel", "-s", "Z9:torch-fp32"],
    "report": ["report", "-s", "Z9:torch-fp32"],
    "paper": ["paper"],
    "models": ["models"],
    "show": ["show", "resnet50.a1_in1k"],
    "data info": ["data", "info"],
}


class Seen(Exception):
    """Raised by the stand-in dataset loader, carrying the results file it was given."""


@pytest.fixture
def spy(monkeypatch):
    def load_dataset(db=None, **kwargs):
        raise Seen(db)

    monkeypatch.setattr("joulebench.data.load_dataset", load_dataset)


def store(path):
    with Store(path) as s:
        s.add_run(run(gpu="NVIDIA Z9"))
        for i, model in enumerate(("resnet50.a1_in1k", "resnet18.a1_in1k", "vit_tiny.augreg_in21k")):
            s.save_task(*task(model=model, gpu="NVIDIA Z9", scale=1 + i))
            s.save_task(*task(model=model, gpu="NVIDIA Z9", runtime="torch-fp16", scale=(1 + i) / 2))
    return path


def seen(args, cwd, monkeypatch, **env):
    monkeypatch.chdir(cwd)
    r = CliRunner().invoke(app, args, env={"JOULEBENCH_DB": "", "COLUMNS": "200", **env})
    assert isinstance(r.exception, Seen), (r.exception, r.output)
    return r.exception.args[0]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_finds_the_results_file_the_same_way(name, spy, tmp_path, monkeypatch):
    args = COMMANDS[name]
    here = tmp_path / "work"
    here.mkdir()
    other = store(tmp_path / "other.db")
    env_db = store(tmp_path / "env.db")
    # nothing at hand: the reference data alone
    assert seen(args, here, monkeypatch) is None
    # ./joulebench.db when present
    local = store(here / "joulebench.db")
    assert seen(args, here, monkeypatch).resolve() == local.resolve()
    # $JOULEBENCH_DB before it
    assert seen(args, here, monkeypatch, JOULEBENCH_DB=str(env_db)) == env_db
    # --db before both
    assert seen([*args, "--db", str(other)], here, monkeypatch, JOULEBENCH_DB=str(env_db)) == other
    # a default that is absent is no error: there are no own measurements yet
    local.unlink()
    assert seen(args, here, monkeypatch, JOULEBENCH_DB=str(tmp_path / "absent.db")) is None


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_missing_db_is_an_error_before_any_work(name, spy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, [*COMMANDS[name], "--db", str(tmp_path / "nope.db")], env={"JOULEBENCH_DB": ""})
    assert isinstance(r.exception, ConfigError), (r.exception, r.output)
    assert "nope.db' does not exist" in str(r.exception) and "--db" in str(r.exception)


def test_compare_reads_own_measurements_from_the_working_folder(tmp_path, monkeypatch):
    """End to end, without a stand-in: the own setups of ./joulebench.db are compared."""
    monkeypatch.chdir(tmp_path)
    store(tmp_path / "joulebench.db")
    r = CliRunner().invoke(
        app, ["compare", "-b", "Z9:torch-fp32", "-o", "Z9:torch-fp16", "--json"], env={"JOULEBENCH_DB": ""}
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["n"] == 3 and res["geomean_factor"] == pytest.approx(2.0)
