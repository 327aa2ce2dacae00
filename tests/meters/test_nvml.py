"""The NVML meter against a fake pynvml: exact counter energies, fallbacks, sampler failures, device mapping."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from fakes import ManualClock
from joulebench.errors import ConfigError, MeterError
from joulebench.meters import get_meter
from joulebench.meters import nvml as nvml_mod
from joulebench.meters.nvml import NvmlMeter, map_visible, parse_visible_devices
from joulebench.meters.testing import FAKE_UUIDS, FakeNvml, FakeNVMLError

UUIDS = FAKE_UUIDS


@pytest.fixture
def fake(monkeypatch):
    f = FakeNvml()
    monkeypatch.setattr(nvml_mod, "_nvml", lambda: f)
    monkeypatch.setattr(nvml_mod, "_torch_visible_uuids", lambda: None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    # Exact-joule tests count counter reads; the window's watcher thread would add reads. Tested on its own below.
    monkeypatch.setattr(NvmlMeter, "watch_counter_default", False)
    return f


def use(monkeypatch, f):
    monkeypatch.setattr(nvml_mod, "_nvml", lambda: f)
    return f


def test_counter_energy_is_exact_with_sampled_integral_beside_it(fake):
    clock = ManualClock(100.0)
    m = get_meter("nvml", clock=clock, sync=lambda: None)
    w = m.begin_window()
    clock.t = 102.5
    r = w.end()
    # One counter read at each edge: itertools.count steps 50,000 mJ between them.
    assert r.counter_energy_j == 50.0
    assert r.energy_j == 50.0 and r.method == "counter" and r.meter == "nvml"
    assert r.duration_s == 2.5
    assert r.avg_power_w == pytest.approx(20.0)
    assert r.sampled_energy_j == pytest.approx(250.0 * 2.5, rel=1e-12)
    assert r.devices[0].uuid == UUIDS[0]
    assert r.trace and {s.device for s in r.trace} == {0}
    s = r.trace[0]
    assert (s.power_w, s.gpu_util_pct, s.mem_util_pct, s.mem_used_b, s.temperature_c, s.sm_clock_mhz) == (
        250.0,
        97.0,
        40.0,
        2e9,
        55.0,
        1980.0,
    )
    assert s.throttle_reasons == 4
    assert r.notes == ()
    assert m._sampler is None
    m.close()
    assert fake.shutdown_calls == 1


def test_sampler_rate_reaches_100_hz_by_default(fake):
    m = NvmlMeter(sync=lambda: None)
    assert m.interval_s <= 0.01
    m.close()


def test_two_devices_sum_and_keep_per_device_readings(monkeypatch, fake):
    f = use(monkeypatch, FakeNvml(n=2, counters={0: itertools.count(0, 1000), 1: itertools.count(7, 3000)}))
    clock = ManualClock(100.0)
    m = NvmlMeter(clock=clock, sync=lambda: None)
    with m.window() as w:
        clock.t += 1.0
    assert [d.counter_energy_j for d in w.devices] == [1.0, 3.0]
    assert w.energy_j == 4.0 and w.counter_energy_j == 4.0
    assert [d.uuid for d in w.devices] == UUIDS[:2]
    assert m.read_counter_j(1) == pytest.approx((7 + 3 * 3000) / 1000)  # probe, two edges, now
    assert f.init_calls == 1


def test_temperature_is_the_hottest_measured_gpus(monkeypatch, fake):
    f = use(monkeypatch, FakeNvml(n=2))
    f.temperatures = {0: 48, 1: 63}
    assert NvmlMeter(sync=lambda: None).read_temperature_c() == 63.0
    assert NvmlMeter(device=0, sync=lambda: None).read_temperature_c() == 48.0


def test_temperature_the_board_does_not_report_is_none(monkeypatch, fake):
    # Probed once at setup (the trace leaves it out), then refused: the cooldown must see None, not crash.
    m = NvmlMeter(sync=lambda: None)
    fake.temperatures = {0: FakeNVMLError(3)}
    assert m.read_temperature_c() is None


def test_counter_unsupported_falls_back_to_sampled_and_says_so(monkeypatch, fake):
    use(monkeypatch, FakeNvml(counter_supported=False, power_mw=300_000))
    clock = ManualClock(100.0)
    m = NvmlMeter(clock=clock, sync=lambda: None)
    assert not m.counter_supported
    with m.window() as w:
        clock.t += 2.0
    assert w.method == "sampled"
    assert w.counter_energy_j is None
    assert w.energy_j == pytest.approx(600.0, rel=1e-12)
    assert any("no energy counter" in n for n in w.notes)
    with pytest.raises(MeterError, match="no energy counter"):
        m.read_counter_j()


def test_counter_going_backwards_uses_sampled_integral(monkeypatch, fake):
    # probe, begin edge, end edge: the end value is below the begin value (wrap or driver reload).
    use(monkeypatch, FakeNvml(counters={0: iter([900_000, 1_000_000, 20_000])}))
    clock = ManualClock(100.0)
    m = NvmlMeter(clock=clock, sync=lambda: None)
    with m.window() as w:
        clock.t += 4.0
    assert w.method == "sampled"
    assert w.counter_energy_j is None
    assert w.energy_j == pytest.approx(1000.0, rel=1e-12)
    assert any("backwards" in n for n in w.notes)


def test_sampler_stops_on_nvml_error_and_counter_energy_survives(fake):
    fake.power_fail_from = 4  # probe, first synchronous sample, one thread poll, then the GPU is "lost"
    clock = ManualClock(100.0)
    m = NvmlMeter(clock=clock, sync=lambda: None, interval_s=0.001)
    w = m.begin_window()
    sampler = m._sampler
    assert fake.power_failed.wait(5.0)
    sampler.thread.join(5.0)
    assert not sampler.thread.is_alive()
    clock.t += 1.0
    r = w.end()
    assert fake.power_calls == 4  # it stopped at the failing call: no retry, no spinning, no final poll
    assert r.method == "counter" and r.energy_j == 50.0
    assert any("sampler stopped" in n and "GPU is lost" in n for n in r.notes)
    assert len(r.trace) == 2


def test_window_aborted_by_exception_stops_sampler(fake):
    m = NvmlMeter(sync=lambda: None)
    with pytest.raises(RuntimeError), m.window() as w:
        raise RuntimeError("model crashed")
    assert w.result is None
    assert m._sampler is None


def test_aligned_edges_wait_for_counter_change(fake):
    clock = ManualClock(0.0)
    polls = itertools.count()
    state = {"n": 0}

    def counter_value():
        # The counter only changes every 5th read; each read takes 10 ms of the fake clock.
        n = next(polls)
        state["n"] = n + 1
        clock.t = round(0.01 * (n + 1), 10)
        return 5_000_000 + 1000 * ((n + 1) // 5)

    fake.counters = {0: iter(counter_value, None)}
    m = NvmlMeter(clock=clock, sync=lambda: None, align=True)
    assert state["n"] == 1  # the support probe
    with m.window() as w:
        begin_reads = state["n"]
    # Begin: reads 2..5 see the old value, read 5 sees the change and becomes the edge.
    assert begin_reads == 5
    assert state["n"] == 10  # end: reads 6..9 unchanged, read 10 changed
    assert w.aligned
    assert w.counter_energy_j == 1.0
    assert w.duration_s == pytest.approx(0.05)


def test_alignment_that_never_sees_a_change_says_so(monkeypatch, fake):
    use(monkeypatch, FakeNvml(counters={0: itertools.repeat(42)}))
    m = NvmlMeter(sync=lambda: None, align_timeout_s=0.02)
    with m.window(align=True) as w:
        pass
    assert not w.aligned
    assert any("not aligned" in n for n in w.notes)
    assert w.counter_energy_j == 0.0


def test_counter_api_for_sub_windows(fake):
    clock = ManualClock(5.0)
    fake.on_counter = lambda: setattr(clock, "t", clock.t + 0.001)
    m = NvmlMeter(clock=clock, sync=lambda: None)
    e0 = m.read_counter_j()
    calls = fake.counter_calls
    t, e1 = m.wait_for_counter_update()
    # One read to learn the current value, one that sees it change; the edge is the instant of the change.
    assert fake.counter_calls == calls + 2
    assert e1 - e0 == pytest.approx(100.0)
    assert t == clock.t


def test_cuda_visible_devices_index_list(monkeypatch, fake):
    use(monkeypatch, FakeNvml(n=4))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    m = NvmlMeter(sync=lambda: None)
    assert m.devices == [0, 1]
    assert [d["uuid"] for d in m.describe()["devices"]] == [UUIDS[2], UUIDS[0]]
    m1 = NvmlMeter(device=1, sync=lambda: None)
    with m1.window() as w:
        pass
    assert w.devices[0].uuid == UUIDS[0] and w.devices[0].device == 1
    with pytest.raises(ConfigError, match="not visible"):
        NvmlMeter(device=2, sync=lambda: None)


def test_cuda_visible_devices_uuid_entries(monkeypatch, fake):
    use(monkeypatch, FakeNvml(n=4))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{UUIDS[3]},GPU-bbbb")
    m = NvmlMeter(sync=lambda: None)
    assert [d["uuid"] for d in m.describe()["devices"]] == [UUIDS[3], UUIDS[1]]
    assert [d["nvml_index"] for d in m.describe()["devices"]] == [3, 1]


def test_visible_device_parsing_follows_cuda_rules():
    assert parse_visible_devices(None) is None
    assert parse_visible_devices("") == []
    assert parse_visible_devices("1, 0") == ["1", "0"]
    assert parse_visible_devices("1,-1,0") == ["1"]
    assert parse_visible_devices("GPU-ab,0") == ["GPU-ab", "0"]
    assert map_visible(None, UUIDS) == [0, 1, 2, 3]
    assert map_visible(["3", "7", "0"], UUIDS) == [3]  # an index out of range ends the list
    assert map_visible(["1", "1"], UUIDS) == [1]
    assert map_visible(["gpu-CCCC"], UUIDS) == [2]
    assert map_visible(["GPU-"], UUIDS) == []  # ambiguous prefix
    with pytest.raises(MeterError, match="MIG"):
        map_visible(["MIG-1234"], UUIDS)


def test_no_visible_gpu_is_a_meter_error(monkeypatch, fake):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(MeterError, match="no GPU is visible"):
        NvmlMeter(sync=lambda: None)
    assert fake.shutdown_calls == 1


def test_mig_instance_is_refused(monkeypatch, fake):
    use(monkeypatch, FakeNvml(n=2, mig={1}))
    NvmlMeter(device=0, sync=lambda: None).close()
    with pytest.raises(MeterError, match=r"MIG.*--meter sim"):
        NvmlMeter(device=1, sync=lambda: None)


def test_nvml_init_failure_names_the_fix(monkeypatch, fake):
    def boom():
        raise FakeNVMLError(12)

    fake.nvmlInit = boom
    with pytest.raises(MeterError) as e:
        get_meter("nvml")
    msg = str(e.value)
    assert "NVML could not initialise" in msg and "--meter sim" in msg and "NVIDIA driver" in msg


def test_missing_pynvml_package_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(MeterError, match=r"nvidia-ml-py.*--meter sim"):
        nvml_mod._nvml()


def test_describe_reports_power_limits_in_watts(fake):
    m = NvmlMeter(sync=lambda: None)
    d = m.describe()
    assert d["driver"] == "580.159.04" and d["cuda_driver"] == "13.0"
    dev = d["devices"][0]
    assert dev["name"] == "NVIDIA H200" and dev["power_limit_w"] == 700.0 and dev["default_power_limit_w"] == 700.0
    assert dev["memory_b"] == 141e9 and dev["counter"] is True


def test_instant_power_source(fake):
    clock = ManualClock(100.0)
    m = NvmlMeter(clock=clock, sync=lambda: None, power_source="instant")
    with m.window() as w:
        clock.t += 1.0
    assert w.sampled_energy_j == pytest.approx(251.0)
    with pytest.raises(ConfigError):
        NvmlMeter(sync=lambda: None, power_source="average")


def test_measure_idle_sets_baseline_and_dynamic_energy(fake):
    clock = ManualClock(100.0)
    m = NvmlMeter(clock=clock, sync=lambda: None)
    m._idle_wait = lambda s: setattr(clock, "t", clock.t + s)
    assert m.measure_idle(2.0) == pytest.approx(25.0)  # 50 J over 2 s
    with m.window() as w:
        clock.t += 1.0
    assert w.idle_power_w == pytest.approx(25.0)
    assert w.dynamic_energy_j == pytest.approx(50.0 - 25.0)


def test_counter_watch_records_changes_only(monkeypatch, fake):
    values = iter([1000, 1000, 1000, 2000, 2000, 3500] + [3500] * 100_000)
    use(monkeypatch, FakeNvml(counters={0: values}))
    clock = ManualClock(100.0)
    m = NvmlMeter(clock=clock, sync=lambda: None)  # the probe consumes the first 1000
    watch = m.counter_watch(poll_s=1e-4)
    watch.start()
    deadline = time.monotonic() + 5.0
    while len(watch.marks()) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    marks = watch.stop()
    assert [mk.energy_j for mk in marks] == [2.0, 3.5]


def test_counter_watch_reports_failure(monkeypatch, fake):
    m = NvmlMeter(sync=lambda: None)
    fake.counter_supported = False  # the board stops answering after the meter was set up
    watch = m.counter_watch(poll_s=1e-4).start()
    with pytest.raises(MeterError, match="watching the energy counter failed"):
        watch.stop()


def test_counter_watch_needs_a_counter(monkeypatch, fake):
    use(monkeypatch, FakeNvml(counter_supported=False))
    with pytest.raises(MeterError, match="no cumulative energy counter"):
        NvmlMeter(sync=lambda: None).counter_watch()


def test_window_watches_counter_so_reads_are_instant_and_marks_recorded(monkeypatch, fake):
    calls = itertools.count()
    fake.counters = {0: (1_000_000 + 100_000 * (next(calls) // 3) for _ in itertools.count())}
    m = NvmlMeter(sync=lambda: None, watch_counter=True)
    with m.window() as w:
        deadline = time.monotonic() + 5.0
        while len(m._watch.marks()) < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        watch = m._watch
        readers = []
        fake.on_counter = lambda: readers.append(threading.get_ident())
        value = m.read_counter_j()
        fake.on_counter = None
        assert value == watch.latest
        assert threading.get_ident() not in readers  # answered from the watcher, no driver call of ours
    assert not watch.running and m._watch is None
    marks = w.result.counter_marks
    assert len(marks) >= 3
    assert all(b.energy_j - a.energy_j == pytest.approx(100.0) for a, b in zip(marks, marks[1:], strict=False))
    assert all(0 <= mk.t_s <= w.duration_s for mk in marks)
    assert w.to_dict()["counter_mark_count"] == len(marks)
    assert len(w.to_dict(with_trace=True)["counter_marks"]) == len(marks)


def test_gpu_process_check_lists_others_and_warns_when_the_driver_cannot(fake, monkeypatch):
    from joulebench.sweep import other_gpu_processes

    procs = [SimpleNamespace(pid=os.getpid()), SimpleNamespace(pid=4242)]
    monkeypatch.setattr(fake, "nvmlDeviceGetComputeRunningProcesses", lambda h: procs, raising=False)
    assert other_gpu_processes([0]) == {0: [4242]}

    def refuse(h):
        raise FakeNVMLError(3)

    monkeypatch.setattr(fake, "nvmlDeviceGetComputeRunningProcesses", refuse, raising=False)
    with pytest.warns(UserWarning, match="cannot list the processes"):
        assert other_gpu_processes([0]) == {}
    assert fake.shutdown_calls == 2


def test_fake_nvml_stands_in_for_the_driver_and_restores_it(monkeypatch):
    from joulebench.meters.testing import fake_nvml

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    real = nvml_mod._nvml
    with fake_nvml(FakeNvml(n=2, names=["NVIDIA H100", "NVIDIA H200"])) as nv:
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
        assert [g["name"] for g in nvml_mod.list_gpus()["gpus"]] == ["NVIDIA H100", "NVIDIA H200"]
        m = NvmlMeter(sync=lambda: None, watch_counter=False)
        with m.window() as w:
            pass
        m.close()
        assert [d.energy_j for d in w.result.devices] == [50.0, 50.0] and nv.init_calls >= 1
    assert nvml_mod._nvml is real and os.environ["CUDA_VISIBLE_DEVICES"] == "1"
