"""The launching thread's CPU use over a measured window: launch time, CPU time, waits and pre-emptions."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import pytest

from fakes import spin
from joulebench.sweep import host_cpu
from joulebench.sweep.host_cpu import CpuUsage, cpu_usage, host_cpu_summary, host_probe_s

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread context switches are Linux's")


def test_a_spinning_thread_uses_its_cpu_and_a_sleeping_one_does_not():
    a = cpu_usage()
    spin(0.2)
    spun = cpu_usage() - a
    b = cpu_usage()
    time.sleep(0.2)
    slept = cpu_usage() - b
    assert spun.thread_cpu_s > 0.1 and slept.thread_cpu_s < 0.05
    assert spun.process_cpu_s >= spun.thread_cpu_s * 0.9  # the process counts the thread's time too


@linux
def test_sleeping_counts_as_a_voluntary_switch():
    b = cpu_usage()
    for _ in range(5):
        time.sleep(0.01)
    slept = cpu_usage() - b
    assert slept.voluntary_switches >= 5 and slept.involuntary_switches >= 0


def test_the_summary_splits_launch_time_from_the_window():
    segs = [
        SimpleNamespace(launch_s=0.3, cpu=CpuUsage(0.9, 1.2, 10, 2)),
        SimpleNamespace(launch_s=0.1, cpu=CpuUsage(0.1, 0.2, 5, 1)),
    ]
    s = host_cpu_summary(segs, window_s=2.0, iterations=100)
    assert s["host_launch_per_iter_s"] == pytest.approx(0.004) and s["host_launch_frac"] == pytest.approx(0.2)
    assert s["host_thread_cpu_s"] == pytest.approx(1.0) and s["host_thread_busy_frac"] == pytest.approx(0.5)
    assert s["host_process_cpu_s"] == pytest.approx(1.4) and s["host_thread_cpu_per_iter_s"] == pytest.approx(0.01)
    assert (s["host_waits"], s["host_preemptions"]) == (15, 3)
    # a platform that does not count switches: None, not zero
    uncounted = host_cpu_summary([SimpleNamespace(launch_s=0.1, cpu=CpuUsage(0.1, 0.1, None, None))], 1.0, 10)
    assert uncounted["host_waits"] is None and uncounted["host_preemptions"] is None
    assert set(host_cpu_summary([SimpleNamespace(launch_s=0.0, cpu=None)], 1.0, 0)) == {
        "host_launch_per_iter_s",
        "host_launch_frac",
    }


def test_the_host_probe_times_the_fastest_pass_of_its_loop(monkeypatch):
    clock = iter([0.0, 0.005, 1.0, 1.002, 2.0, 2.009])  # passes of 5, 2 and 9 ms of thread CPU time
    monkeypatch.setattr(host_cpu.time, "thread_time", lambda: next(clock))
    assert host_probe_s(loop=10, passes=3) == pytest.approx(0.002)


def test_the_host_probe_grows_with_its_loop():
    short, long = host_probe_s(loop=20_000), host_probe_s(loop=400_000)
    assert 0 < short < long / 5  # twenty times the work: far more than noise can blur


def test_the_summary_gives_the_median_probe_of_its_windows():
    segs = [SimpleNamespace(launch_s=0.1, cpu=None, probe_s=p) for p in (0.004, 0.002, 0.003)]
    assert host_cpu_summary(segs, 1.0, 10)["host_probe_s"] == pytest.approx(0.003)
