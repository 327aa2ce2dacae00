"""`joulebench report` on what the user has: their own setups always, every section it can write."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from factories import analysis_dataset, run, task
from joulebench.cli import app, loading
from joulebench.store import Store

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

OWN = "Z9:torch-fp32"


@pytest.fixture
def with_two_own_models(monkeypatch):
    ds = analysis_dataset(n=24)
    two = ds.energy[ds.energy["setup"] == "A100:torch-fp32"].head(2)
    ds.energy = pd.concat([ds.energy, two.assign(setup=OWN, gpu="Z9", source="joulebench")], ignore_index=True)
    monkeypatch.setattr(loading, "load", lambda db: ds)
    monkeypatch.setattr(loading, "own_setups", lambda db: [OWN])
    return ds


@pytest.mark.slow
def test_report_with_two_own_models_writes_what_it_can(with_two_own_models, tmp_path):
    out = tmp_path / "r.html"
    args = ["report", "-s", "A100:torch-fp32", "-s", "H100:torch-fp32", "--out", str(out), "--json"]
    r = CliRunner().invoke(app, args, env={"JOULEBENCH_DB": ""})
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout[r.stdout.index("{") :])["summary"]
    assert summary["setups"] == ["A100:torch-fp32", "H100:torch-fp32", OWN]  # the own setup joins unasked
    html = out.read_text()
    assert "Left out of this section: Z9:torch-fp32 (2 models); it needs more models" in html
    assert "transfer" in summary  # the section the own setup could not join is written for the others
    assert "also reporting on your own setup(s): Z9:torch-fp32" in r.output


def test_own_setups_are_those_of_the_results_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOULEBENCH_DB", "")
    assert loading.own_setups(None) == []
    with Store(tmp_path / "joulebench.db") as s:
        s.add_run(run(gpu="NVIDIA Z9"))
        s.save_task(*task(gpu="NVIDIA Z9"))
        s.save_task(*task(gpu="NVIDIA Z9", runtime="torch-fp16"))
    assert loading.own_setups(None) == ["Z9:torch-fp16", "Z9:torch-fp32"]


@pytest.mark.slow
def test_a_section_that_cannot_be_written_says_what_it_needs(with_two_own_models, tmp_path, monkeypatch):
    from joulebench.analysis.report import build as report_build
    from joulebench.errors import ConfigError

    def needy(inp, summary):
        """Section 9: something that needs ten setups."""
        raise ConfigError("this section needs ten setups")

    monkeypatch.setattr(report_build, "SECTIONS", (*report_build.SECTIONS, needy))
    out = tmp_path / "r.html"
    r = CliRunner().invoke(app, ["report", "-s", OWN, "--out", str(out), "--json"], env={"JOULEBENCH_DB": ""})
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout[r.stdout.index("{") :])["summary"]
    assert summary["skipped"] == [
        {"section": "Section 9: something that needs ten setups", "reason": "this section needs ten setups"}
    ]
    html = out.read_text()
    assert (
        "<h2>Section 9: something that needs ten setups</h2><p class=note>Not written: this section needs ten setups"
        in html
    )
    assert "Z9:torch-fp32" in html
