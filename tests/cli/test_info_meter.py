"""``joulebench meter`` and ``joulebench info`` through the CLI (simulated and faked meters only)."""

from __future__ import annotations

import csv
import json
import sys

import pytest
from typer.testing import CliRunner

from joulebench import cli
from joulebench.cli import info as info_mod
from joulebench.cli import meter as meter_mod
from joulebench.errors import ConfigError
from joulebench.meters import nvml as nvml_mod

runner = CliRunner()


class BrokenNvml:
    class NVMLError(Exception):
        pass

    def nvmlInit(self):
        raise self.NVMLError("Driver Not Loaded")


@pytest.fixture
def no_nvml(monkeypatch):
    monkeypatch.setattr(nvml_mod, "_nvml", lambda: BrokenNvml())


def meter_json(*args):
    r = runner.invoke(cli.app, ["meter", "--meter", "sim", "--idle", "0", "--json", *args])
    return r, (json.loads(r.stdout) if r.stdout.strip().startswith("{") else None)


def test_meter_sleep_with_sim_reports_energy_and_time():
    r, d = meter_json("--no-align", "--", "sleep", "0.2")
    assert r.exit_code == 0, r.output
    assert d["exit_code"] == 0 and d["simulated"] is True
    res = d["result"]
    assert res["meter"] == "sim" and res["method"] == "simulated"
    assert res["duration_s"] >= 0.2
    assert res["energy_j"] == pytest.approx(res["avg_power_w"] * res["duration_s"])
    assert d["provenance"]["meter"] == "sim" and d["provenance"]["simulated"] is True


def test_meter_table_says_simulated_and_shows_idle_and_dynamic_energy():
    r = runner.invoke(cli.app, ["meter", "--meter", "sim", "--idle", "50ms", "--no-align", "--", "sleep", "0.05"])
    assert r.exit_code == 0, r.output
    assert "SIMULATED" in r.stdout
    assert "energy above idle" in r.stdout and "idle power" in r.stdout


def test_exit_code_is_passed_through_and_energy_still_reported():
    r, d = meter_json("--no-align", "--", "sh", "-c", "exit 3")
    assert r.exit_code == 3
    assert d["exit_code"] == 3 and d["result"]["energy_j"] > 0


def test_signal_death_maps_to_128_plus_signal():
    r, d = meter_json("--no-align", "--", "sh", "-c", "kill -TERM $$")
    assert r.exit_code == 128 + 15 and d["exit_code"] == 143


def test_nonexistent_command_is_127_and_nothing_else(monkeypatch):
    def must_not_run(*a, **k):
        raise AssertionError("a meter was created for a command that does not exist")

    monkeypatch.setattr("joulebench.meters.get_meter", must_not_run)
    r = runner.invoke(cli.app, ["meter", "--meter", "sim", "--", "definitely-not-a-command-xyz", "arg"])
    assert r.exit_code == 127
    assert r.stderr.strip() == "error: command not found: definitely-not-a-command-xyz"
    assert r.stdout == ""


def test_missing_command_is_a_config_error():
    r = runner.invoke(cli.app, ["meter", "--meter", "sim"])
    assert isinstance(r.exception, ConfigError)


def test_no_nvml_is_one_line_naming_sim_and_driver(no_nvml, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["meter", "--meter", "nvml", "--idle", "0", "--", "true"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ") and "--meter sim" in err and "NVIDIA driver" in err


def test_unknown_meter_lists_known_meters(capsys):
    with pytest.raises(SystemExit):
        cli.main(["meter", "--meter", "joulemeter", "--", "true"])
    err = capsys.readouterr().err
    assert "Known meters: nvml, rapl, sim, smi" in err


def test_trace_csv_carries_the_meter_name(tmp_path):
    out = tmp_path / "t" / "trace.csv"
    r, d = meter_json("--no-align", "--trace", str(out), "--", "sleep", "0.05")
    assert r.exit_code == 0
    rows = list(csv.DictReader(out.open()))
    assert rows and {row["meter"] for row in rows} == {"sim"}
    assert len(rows) == d["result"]["trace_summary"]["samples"]


def test_save_writes_a_window_to_the_store(tmp_path):
    db = tmp_path / "r.db"
    r, d = meter_json("--no-align", "--save", "--db", str(db), "--", "sh", "-c", "exit 1")
    assert r.exit_code == 1
    from joulebench.store import Store

    rows = Store(db).windows()
    assert len(rows) == 1
    row = rows[0]
    assert row["meter"] == "sim" and row["exit_code"] == 1 and row["label"] == "sh -c 'exit 1'"
    assert row["energy_j"] == pytest.approx(d["result"]["energy_j"])


@pytest.mark.slow
def test_json_keeps_stdout_clean_of_the_commands_output(src_env):
    """Through a real process: the command's stdout goes to stderr, so stdout is exactly one JSON document."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "joulebench", "meter", "--meter", "sim", "--idle", "0", "--no-align", "--json"]
    p = subprocess.run(
        [*cmd, "--", "sh", "-c", "echo $((6*7))0042"], capture_output=True, text=True, env=src_env, timeout=120
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["exit_code"] == 0
    assert "420042" in p.stderr and "420042" not in p.stdout


def test_parse_devices():
    assert meter_mod.parse_devices("0,1") == [0, 1]
    assert meter_mod.parse_devices(None) is None
    with pytest.raises(ConfigError):
        meter_mod.parse_devices("a,b")


def test_info_json_without_nvml_lists_reasons(no_nvml, monkeypatch):
    monkeypatch.setattr(info_mod, "probe_runtimes", lambda: (None, "runtimes: not available"))
    r = runner.invoke(cli.app, ["info", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    meters = {m["name"]: m for m in d["meters"]}
    assert meters["sim"]["available"] and meters["sim"]["simulated"]
    assert not meters["nvml"]["available"] and "NVIDIA driver" in meters["nvml"]["detail"]
    assert d["gpus"] == [] and "NVML could not initialise" in d["gpu_error"]
    assert d["default_meter"] is None
    assert any(line.startswith("meter nvml:") for line in d["missing"])
    assert "runtimes: not available" in d["missing"]
    assert d["host"]["joulebench"] and d["host"]["python"]


def test_info_lists_nvml_gpus_from_a_fake(monkeypatch, install_nvml):
    from joulebench.meters.testing import FakeNvml

    install_nvml(FakeNvml(n=2))
    monkeypatch.setattr(info_mod, "probe_runtimes", lambda: ([{"name": "x", "available": True, "detail": ""}], None))
    d = info_mod.collect_info()
    assert [g["name"] for g in d["gpus"]] == ["NVIDIA H200", "NVIDIA H200"]
    assert d["gpus"][0]["power_limit_w"] == 700.0 and d["driver"] == "580.159.04"
    assert d["default_meter"] == "nvml"
    assert "energy counter on 2/2" in {m["name"]: m for m in d["meters"]}["nvml"]["detail"]
    r = runner.invoke(cli.app, ["info"])
    assert r.exit_code == 0 and "NVIDIA H200" in r.stdout and "SIMULATED" in r.stdout


def test_info_without_runtimes_package(monkeypatch):
    real = info_mod.importlib.import_module

    def fake_import(name, *a):
        if name == "joulebench.runtimes":
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return real(name, *a)

    monkeypatch.setattr(info_mod.importlib, "import_module", fake_import)
    assert info_mod.probe_runtimes() == (None, "runtimes: not available in this build of joulebench")


def test_info_probes_a_runtimes_registry(monkeypatch):
    """A fake registry (the real runtimes import torch, which is slow): one works, one not, one broken."""
    import types

    from joulebench.registry import Registry

    reg = Registry("runtime")

    class Ok:
        @classmethod
        def available(cls):
            return True, ""

    class No:
        @classmethod
        def available(cls):
            return False, "no CUDA GPU is visible"

    class Broken:
        @classmethod
        def available(cls):
            raise RuntimeError("driver mismatch")

    for name, cls in (("a-ok", Ok), ("b-no", No), ("c-broken", Broken)):
        reg.register(name)(cls)
    monkeypatch.setitem(sys.modules, "joulebench.runtimes", types.SimpleNamespace(RUNTIMES=reg))
    rows, why = info_mod.probe_runtimes()
    assert why is None
    assert [(r["name"], r["available"]) for r in rows] == [("a-ok", True), ("b-no", False), ("c-broken", False)]
    assert "driver mismatch" in rows[2]["detail"]


def test_version_prints_and_exits_zero(capsys):
    from joulebench import __version__

    cli.main(["--version"])  # returns (exit status 0) instead of asking for a command
    assert capsys.readouterr().out.strip() == __version__
    r = CliRunner().invoke(cli.app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == __version__
