"""Provenance: versions without importing torch, GPU facts from the meter, never confusing sim with hardware."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from joulebench import provenance
from joulebench.meters import nvml as nvml_mod
from joulebench.meters.sim import SimMeter


def test_torch_cuda_version_from_wheel_tag(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert provenance.torch_cuda_version("2.11.0+cu130") == "13.0"
    assert provenance.torch_cuda_version("2.5.1+cu121") == "12.1"
    assert provenance.torch_cuda_version("2.5.1+cpu") is None
    assert provenance.torch_cuda_version(None) is None


def test_collect_with_sim_meter_is_marked_simulated():
    p = provenance.collect_provenance(SimMeter(sync=lambda: None))
    assert p["meter"] == "sim" and p["simulated"] is True
    assert p["gpu_name"].startswith("Simulated") and p["power_limit_w"] == 300.0
    assert dt.datetime.fromisoformat(p["date"]).tzinfo is not None
    for key in ("joulebench", "python", "os", "host", "cpu", "torch", "timm", "cuda", "driver", "gpu_uuid"):
        assert key in p


def test_collect_with_fake_nvml_meter(install_nvml):
    install_nvml()
    m = nvml_mod.NvmlMeter(sync=lambda: None)
    p = provenance.collect_provenance(m)
    assert (p["gpu_name"], p["power_limit_w"], p["default_power_limit_w"], p["driver"], p["cuda_driver"]) == (
        "NVIDIA H200",
        700.0,
        700.0,
        "580.159.04",
        "13.0",
    )
    assert p["gpu_memory_b"] == 141e9 and p["simulated"] is False


def test_collect_without_meter_and_without_nvml_says_why(monkeypatch):
    def missing():
        raise nvml_mod.MeterError("NVML could not initialise: test")

    monkeypatch.setattr(nvml_mod, "_nvml", missing)
    p = provenance.collect_provenance()
    assert p["gpu_name"] is None and "NVML could not initialise" in p["gpu_error"]


def test_rapl_packages_are_not_reported_as_gpus(tmp_path):
    import shutil

    from joulebench.meters.rapl import RaplMeter

    root = tmp_path / "pc"
    shutil.copytree(Path(__file__).parent / "fixtures" / "powercap", root)
    p = provenance.collect_provenance(RaplMeter(root=root, interval_s=0))
    assert p["meter"] == "rapl" and p["gpu_name"] is None and p["gpus"] == []


def test_versions_do_not_import_torch(src_env):
    code = (
        "import sys; from joulebench.provenance import collect_provenance; "
        "from joulebench.meters.sim import SimMeter; p = collect_provenance(SimMeter()); "
        "assert 'torch' not in sys.modules, 'torch imported'; print(p['torch'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=src_env)
    assert out.returncode == 0, out.stderr
    try:
        import importlib.metadata as md

        expected = md.version("torch")
    except md.PackageNotFoundError:
        pytest.skip("torch not installed")
    assert out.stdout.strip() == expected


def test_a_sweeps_provenance_names_the_search_revision_that_ran():
    from joulebench.sweep.plan import collect
    from joulebench.sweep.search import SEARCH_REVISION

    # the search's rules change without its options, so the options' hash cannot tell two revisions apart
    assert collect(SimMeter())["search_revision"] == SEARCH_REVISION >= 3
