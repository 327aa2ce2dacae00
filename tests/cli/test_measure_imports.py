"""``joulebench measure`` leaves torch and timm to its workers: the driver's path imports neither.

Importing them takes about 5 s on a two-core machine, and every worker subprocess imports them again to build its
model; ``measure --quick`` is meant to take seconds. These tests check the mechanism (which modules a process holds),
never a time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "timm", "torchvision")

# The measure command as a user runs it, with the worker's start replaced by a process that exits at once (the
# driver then stores a failure for the task): what the driver imported at the hand-over and by its end is printed.
# With HIDE_SHIPPED set, the package's table of timm names is out of sight (as for another timm release).
DRIVER = f"""
import json, os, subprocess, sys
from pathlib import Path
from joulebench.models import name_cache
from joulebench.sweep import process

if os.environ.get("HIDE_SHIPPED"):
    name_cache.SHIPPED_NAMES = Path(os.devnull + "-no-names.csv.gz")

HEAVY = {HEAVY!r}
seen = {{"cli": sorted(m for m in HEAVY if m in sys.modules)}}

def start_no_worker(task_file, w_fd, log, device_index, python):
    seen["handover"] = sorted(m for m in HEAVY if m in sys.modules)
    os.close(w_fd)
    return subprocess.Popen([sys.executable, "-c", "pass"], stdout=log, stderr=subprocess.STDOUT)

process._start_worker = start_no_worker
from joulebench.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
seen["end"] = sorted(m for m in HEAVY if m in sys.modules)
print(json.dumps(seen))
"""


def test_importing_the_cli_imports_neither_torch_nor_timm(src_env):
    code = f"import sys, joulebench.cli; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=src_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_measure_driver_imports_neither_torch_nor_timm_for_a_shipped_or_cached_name(tmp_path, src_env):
    timm = pytest.importorskip("timm")
    from joulebench.models.name_cache import SHIPPED_NAMES, shipped_names

    cmd = ["measure", "test_vit", "--runtime", "cpu-fp32", "--meter", "sim", "--quick", "--db", str(tmp_path / "r.db")]
    cmd += ["--worker-start", "fresh"]  # the stand-in replaces a fresh worker's start
    runs = []
    # without the shipped names: the first run reads the name from timm and keeps it, the second needs no timm;
    # then with them, in an empty cache folder
    for hide, cache in [("1", "cache"), ("1", "cache"), ("", "empty")]:
        env = {**src_env, "JOULEBENCH_CACHE": str(tmp_path / cache), "HIDE_SHIPPED": hide}
        out = subprocess.run(
            [sys.executable, "-c", DRIVER, *cmd, "--force"], capture_output=True, text=True, timeout=300, env=env
        )
        assert out.returncode == 0, out.stderr
        assert "failed test_vit.r160_in1k@160 cpu-fp32: worker crashed" in out.stderr  # handed to the stand-in
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert runs[0]["handover"] == ["timm", "torch", "torchvision"]  # not resolved before: timm read the name
    assert runs[1] == {"cli": [], "handover": [], "end": []}
    if shipped_names(SHIPPED_NAMES)[0] == timm.__version__:
        assert runs[2] == {"cli": [], "handover": [], "end": []}


def test_a_cpu_runtime_is_available_without_importing_torch(src_env, monkeypatch):
    pytest.importorskip("torch")
    code = (
        "import sys; from joulebench.runtimes import get_runtime_class; "
        f"print(get_runtime_class('cpu-fp32').available(), sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=src_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(True, '') []"
    from joulebench.runtimes import get_runtime_class

    monkeypatch.setitem(sys.modules, "torch", None)  # as if not installed
    ok, reason = get_runtime_class("cpu-fp32").available()
    assert not ok and "pip install 'joulebench[torch]'" in reason
