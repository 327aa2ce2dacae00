"""The core works without the analysis extra (SciPy, pyarrow, matplotlib, scikit-learn): a meter window is measured,
stored and listed; only the analyses say what to install."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Imported as None, so that importing any of them fails as if it were not installed.
WITHOUT_ANALYSIS = "import sys\nfor m in ('scipy', 'pyarrow', 'matplotlib', 'sklearn'): sys.modules[m] = None\n"


def joulebench(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    code = WITHOUT_ANALYSIS + f"from joulebench.cli import main\nsys.argv = ['joulebench', *{args!r}]\nmain()\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow
def test_a_meter_window_is_measured_stored_and_listed_without_the_analysis_extra(tmp_path, src_env):
    db = str(tmp_path / "r.db")
    args = ["meter", "--meter", "sim", "--idle", "0", "--no-align", "--save", "--db", db, "--", "true"]
    p = joulebench(args, src_env)
    assert p.returncode == 0, p.stderr
    p = joulebench(["results", "--windows", "--json", "--db", db], src_env)
    assert p.returncode == 0, p.stderr
    (window,) = json.loads(p.stdout)
    assert window["meter"] == "sim" and window["energy_j"] > 0


@pytest.mark.slow
def test_an_analysis_without_the_extra_names_the_pip_command(tmp_path, src_env):
    p = joulebench(["frontier", "--setup", "A100:torch-fp32"], {**src_env, "JOULEBENCH_DB": str(tmp_path / "none.db")})
    assert p.returncode != 0
    assert "pip install 'joulebench[analysis]'" in p.stdout + p.stderr
