"""The project's own datasets ship in the package, and a wheel install compares its setups."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from joulebench.data.dataset import DATASETS, load_dataset
from joulebench.store import Store
from joulebench.store.bundle import import_bundle, read_tables
from joulebench.store.export import export_table
from joulebench.sweep.tasks import SweepOptions

ROOT = Path(__file__).resolve().parents[2]
H200 = ROOT / "data/h200/dataset"
H100 = ROOT / "data/h100/dataset"


BUNDLES = sorted(p.parent for p in (ROOT / "data").glob("*/dataset/manifest.json"))


def test_every_dataset_bundle_ships_and_every_shipped_dataset_has_its_bundle():
    assert H200 in BUNDLES and H100 in BUNDLES
    assert {f"{b.parent.name}_summaries.csv.gz" for b in BUNDLES} == {p.name for p in DATASETS.glob("*.csv.gz")}


@pytest.mark.slow
@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda b: b.parent.name)
def test_the_shipped_summaries_are_the_bundles(bundle, tmp_path):
    """The packaged file is what importing the bundle and exporting its summaries writes, byte for byte."""
    name = f"{bundle.parent.name}_summaries.csv.gz"
    with Store(tmp_path / "dataset.db") as store:
        import_bundle(store, bundle)
        export_table(store, tmp_path / name)
    assert (tmp_path / name).read_bytes() == (DATASETS / name).read_bytes()


def test_the_h200_setups_hold_the_156_panel_configurations_and_nothing_else(monkeypatch):
    monkeypatch.delenv("JOULEBENCH_DATA", raising=False)
    panel = {tuple(line.strip().split("@")) for line in (H200 / "panel.txt").read_text().splitlines() if line.strip()}
    panel = {(m, int(s)) for m, s in panel}
    for setup in ("H200:torch-fp32", "H200:compile-fp16"):
        assert _configs(setup) == panel, setup
    # the panel's protocol (10 s windows, the plateau search) and, for the results measured again because the
    # current search would have continued them (--redo-stale), the default one; the short-window panel and the
    # repeats stay out of the shipped setups
    configs = {r["config_hash"]: r["config"] for r in read_tables(H200).rows["runs"]}
    assert len(configs) == 2
    by_search = {c["search"]: c for c in configs.values()}
    assert by_search["plateau"]["min_window_s"] == 10.0
    # the default of today: a new default leaves these results stale again, and the card's count must say so
    assert by_search["scan"] == SweepOptions(meter="nvml").to_config()


def _configs(setup):
    e = load_dataset(include_cache=False).energy
    e = e[(e.setup == setup) & (e.status == "ok")]
    return set(zip(e.model, e.img_size.astype(int), strict=True))


def test_the_h100_sxm_setups_are_the_bundles_latest_results_apart_from_the_papers_h100(monkeypatch):
    monkeypatch.delenv("JOULEBENCH_DATA", raising=False)
    tables = read_tables(H100).rows
    runs, summaries = tables["runs"], tables["summaries"]
    assert {(r["gpu_name"], r["power_limit_w"]) for r in runs} == {("NVIDIA H100 80GB HBM3", 700.0)}
    # four revisions of the batch search: the second and third with the same options, the sixth with its own
    # finalist rule (the card says which runs are which)
    assert len({r["config_hash"] for r in runs}) == 3
    e = load_dataset(include_cache=False).energy
    for runtime in ("torch-fp32", "compile-fp16"):
        mine = [s for s in summaries if s["runtime"] == runtime and s["status"] == "ok"]
        assert mine and _configs(f"H100-SXM:{runtime}") == {(s["model"], int(s["img_size"])) for s in mine}
        # a configuration measured more than once shows its latest result; the bundle keeps every run
        latest = {}
        for s in sorted(mine, key=lambda s: s["finished_at"]):
            latest[s["model"]] = s["energy_per_image_j"]
        shown = e[(e.setup == f"H100-SXM:{runtime}") & (e.status == "ok")]
        assert dict(zip(shown.model, shown.energy_per_image_j, strict=True)) == pytest.approx(latest)
    repeats = [s for s in summaries if (s["model"], s["runtime"]) == ("resnet50.a1_in1k", "torch-fp32")]
    assert len(repeats) == 9 and len({s["gpu_uuid"] for s in repeats}) == 4
    # the paper's H100 PCIe setups hold the paper's rows only, and the own H100 rows none of the paper's
    assert set(e[e.setup.str.startswith("H100:")].source) == {"hidden-joules-2025"}
    assert set(e[e.setup.str.startswith("H100-SXM:")].source) == {"joulebench"}


def test_the_explorer_shows_the_h100_sxm_setups_beside_the_papers_h100(monkeypatch):
    from joulebench.app.build import build_payload

    monkeypatch.delenv("JOULEBENCH_DATA", raising=False)
    setups = {s["id"]: s for s in build_payload(load_dataset(include_cache=False))["setups"]}
    for setup in ("H100-SXM:torch-fp32", "H100-SXM:compile-fp16"):
        assert (setups[setup]["gpu"], setups[setup]["source"]) == ("H100-SXM", "joulebench")
        assert len(setups[setup]["m"]) == len(_configs(setup))  # one point per configuration
    assert {setups[s]["source"] for s in ("H100:torch-fp32", "H100:tensorrt-fp16")} == {"hidden-joules-2025"}


def test_a_checkout_reads_the_other_folders_of_data_only_when_named(monkeypatch):
    monkeypatch.delenv("JOULEBENCH_DATA", raising=False)
    assert ("efficientvit_b2.r224_in1k", 224) not in _configs("H200:torch-fp32")
    monkeypatch.setenv("JOULEBENCH_DATA", str(ROOT / "data/h200/short-window-panel"))
    assert ("efficientvit_b2.r224_in1k", 224) in _configs("H200:torch-fp32")


@pytest.mark.slow
def test_a_wheel_install_compares_the_h200_and_h100_sxm_setups(tmp_path):
    # build from a copy of what the wheel is made of, so the checkout gets no build/ or egg-info
    src = tmp_path / "src-tree"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(src), "-w", str(wheels)],
        check=True,
        timeout=240,
    )
    (wheel,) = wheels.glob("joulebench-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # the system pip installs into the venv's site-packages (the venv has no pip of its own)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", site, str(wheel)],
        check=True,
        timeout=240,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JOULEBENCH_DATA", "JOULEBENCH_DB")}
    env["JOULEBENCH_CACHE"] = str(tmp_path / "cache")
    where = subprocess.run(
        [str(python), "-c", "import joulebench; print(joulebench.__file__)"],
        check=True, capture_output=True, text=True, cwd=tmp_path, env=env,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(site), where  # the wheel's joulebench, not the checkout's src/
    sxm = len({s["model"] for s in read_tables(H100).rows["summaries"] if s["runtime"] == "torch-fp32"})
    for base, other, printed in (
        ("H200:torch-fp32", "H200:compile-fp16", "over 156 models"),
        ("H100:torch-fp32", "H100-SXM:torch-fp32", f"H100-SXM:torch-fp32 vs H100:torch-fp32 over {sxm} models"),
    ):
        run = subprocess.run(
            [str(python), "-m", "joulebench", "compare", "-b", base, "-o", other],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=240,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert printed in " ".join(run.stdout.split())
