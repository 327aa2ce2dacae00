"""Results of the simulated meter show wherever their setup is named, labelled SIMULATED."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from factories import run, task
from joulebench.cli import app
from joulebench.store import Store

SIM = "Z9:torch-fp32:sim"
MODELS = ("resnet50.a1_in1k", "resnet18.a1_in1k", "vit_tiny_patch16_224.augreg_in21k_ft_in1k", "convnext_atto.d2_in1k")


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "sim.db"
    with Store(path) as s:
        s.add_run(run(meter="sim", gpu="NVIDIA Z9"))
        for i, model in enumerate(MODELS):
            s.save_task(*task(model=model, gpu="NVIDIA Z9", meter="sim", scale=1 + i))
    return path


def invoke(*args):
    r = CliRunner().invoke(app, [str(a) for a in args], env={"JOULEBENCH_DB": "", "COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    return r.stdout


def test_models_shows_a_simulated_setups_energy_labelled(db):
    out = invoke("models", "resnet50.a1", "--setup", SIM, "--db", db)
    assert "SIMULATED" in out
    line = next(line for line in out.splitlines() if "resnet50.a1_in1k" in line and " 224 " in line)
    assert "1.25 mJ" in line  # task(): 0.01 J / sqrt(64) at the optimal batch
    rows = json.loads(invoke("models", "resnet50.a1", "--setup", SIM, "--db", db, "--json"))
    row = next(r for r in rows if r["img_size"] == 224 and r["model"] == "resnet50.a1_in1k")
    assert row["energy_per_image_j"] == pytest.approx(0.01 / 8) and row["simulated"] is True


def test_models_sorts_a_simulated_setup_by_energy(db):
    rows = json.loads(invoke("models", "--setup", SIM, "--sort", "energy", "--limit", "4", "--db", db, "--json"))
    assert [r["model"] for r in rows] == list(MODELS)


@pytest.mark.parametrize(
    "args",
    [
        ["rank", "-s", SIM],
        ["frontier", "-s", SIM],
        ["panel", "-s", SIM, "--lowest", "2", "--add", "resnet18"],
        ["show", "resnet50.a1_in1k"],
    ],
)
def test_every_listing_of_a_simulated_setup_says_so(db, args):
    out = invoke(*args, "--db", db)
    assert "SIMULATED" in out and "resnet50.a1_in1k" in out


def test_json_of_a_simulated_setup_says_so(db):
    assert json.loads(invoke("rank", "-s", SIM, "--db", db, "--json"))["simulated"] is True
    assert json.loads(invoke("frontier", "-s", SIM, "--db", db, "--json"))["simulated"] is True
