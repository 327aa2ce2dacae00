"""The RAPL meter against a fixture powercap tree (copied per test so counters can move)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fakes import ManualClock
from joulebench.errors import ConfigError, MeterError
from joulebench.meters import get_meter
from joulebench.meters.rapl import RaplMeter, find_packages

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "powercap"
RANGE = 262143328850


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "powercap"
    shutil.copytree(FIXTURE, root)
    return root


def write(root, zone, uj):
    (root / zone / "energy_uj").write_text(f"{uj}\n")


def test_finds_only_package_zones(tree):
    assert sorted(find_packages(tree)) == [0, 1]  # not the core subzone, not mmio, not the control dir


def test_package_energy_over_a_window(tree):
    clock = ManualClock(0.0)
    m = get_meter("rapl", root=tree, clock=clock, interval_s=0, sync=lambda: None)
    w = m.begin_window()
    write(tree, "intel-rapl:0", 84_000_000_000 + 12_500_000)
    write(tree, "intel-rapl:1", 262_143_000_000 + 2_000_000)
    clock.t = 0.5
    r = w.end()
    assert r.meter == "rapl" and r.method == "rapl"
    assert [d.energy_j for d in r.devices] == [12.5, 2.0]
    assert r.energy_j == 14.5
    assert r.duration_s == 0.5 and r.avg_power_w == 29.0
    assert [s.power_w for s in r.trace] == [25.0, 4.0]


def test_counter_wrap_uses_max_energy_range(tree):
    clock = ManualClock(0.0)
    m = RaplMeter(device=1, root=tree, clock=clock, interval_s=0, sync=lambda: None)
    w = m.begin_window()
    write(tree, "intel-rapl:1", 1_000_000)  # wrapped past max_energy_range_uj
    clock.t = 1.0
    r = w.end()
    assert r.energy_j == pytest.approx((RANGE - 262_143_000_000 + 1_000_000) / 1e6)


def test_background_reads_keep_wraps_apart(tree):
    """Intermediate reads (the wrap guard) must not change the total: each step adds its own delta."""
    clock = ManualClock(0.0)
    m = RaplMeter(device=0, root=tree, clock=clock, interval_s=0, sync=lambda: None)
    w = m.begin_window()
    sampler = w.state["sampler"]
    for uj in (200_000_000_000, 5_000_000, 100_000_000_000):  # a wrap between the 1st and 2nd read
        write(tree, "intel-rapl:0", uj)
        clock.t += 1.0
        sampler._poll()
    write(tree, "intel-rapl:0", 100_000_000_001)
    clock.t += 1.0
    r = w.end()
    steps = [200_000_000_000 - 84_000_000_000, RANGE - 200_000_000_000 + 5_000_000, 100_000_000_000 - 5_000_000, 1]
    expected_uj = sum(steps)
    assert r.energy_j == pytest.approx(expected_uj / 1e6)
    assert len(r.trace) == 4


def test_missing_tree_is_a_clear_error(tmp_path):
    with pytest.raises(MeterError, match="no RAPL energy counters"):
        RaplMeter(root=tmp_path / "nothing")


def test_unreadable_counter_names_the_fix(tree, monkeypatch):
    real = Path.read_text

    def read_text(self, *a, **k):
        if self.name == "energy_uj":  # what a non-root user meets on current kernels
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", read_text)
    with pytest.raises(MeterError, match=r"permission denied.*chmod o\+r"):
        RaplMeter(root=tree)


def test_unknown_package(tree):
    with pytest.raises(ConfigError, match="packages here"):
        RaplMeter(device=5, root=tree)


def test_counter_api(tree):
    m = RaplMeter(root=tree, interval_s=0)
    assert m.read_counter_j(0) == 84_000.0
    assert m.read_counter_j() == pytest.approx(84_000.0 + 262_143.0)
