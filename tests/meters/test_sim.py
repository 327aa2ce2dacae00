"""The simulated meter end to end, the window API, and the three-line Python API."""

from __future__ import annotations

import dataclasses

import pytest

import joulebench
from fakes import ManualClock
from joulebench.errors import ConfigError, MeterError
from joulebench.meters import get_meter, meter_names
from joulebench.meters.base import WindowResult, combine_readings
from joulebench.meters.sampler import BackgroundSampler, integrate_trapezoid
from joulebench.meters.sim import SimMeter


def run(meter, clock, seconds, load):
    with meter.window(load=load) as w:
        clock.t += seconds
    return w.result


def test_registered_meters():
    assert {"nvml", "smi", "sim", "rapl"} <= set(meter_names())
    with pytest.raises(ConfigError, match="Known meters: .*sim"):
        get_meter("simm")


def test_sim_is_deterministic_and_marked_simulated():
    results = []
    for _ in range(2):
        clock = ManualClock(1000.0)
        m = SimMeter(clock=clock, seed=7, sync=lambda: None)
        results.append(run(m, clock, 2.0, 1.0))
    a, b = results
    assert a.energy_j == b.energy_j and a.trace == b.trace
    assert a.meter == "sim" and a.method == "simulated" and a.is_simulated
    assert any("not a measurement" in n for n in a.notes)
    assert a.to_dict()["meter"] == "sim"
    other = SimMeter(clock=ManualClock(1000.0), seed=8, sync=lambda: None)
    assert run(other, other.clock, 2.0, 1.0).energy_j != a.energy_j


def test_sim_power_follows_load_and_trace_is_100_hz():
    clock = ManualClock(1000.0)
    m = SimMeter(clock=clock, idle_power_w=50, power_limit_w=250, noise_rel=0.0, sync=lambda: None)
    full = run(m, clock, 1.0, 1.0)
    half = run(m, clock, 1.0, 0.5)
    idle = run(m, clock, 1.0, None)
    assert full.avg_power_w == pytest.approx(250.0)
    assert half.avg_power_w == pytest.approx(150.0)
    assert idle.avg_power_w == pytest.approx(50.0)
    assert full.trace_summary()["sample_rate_hz"] == pytest.approx(100.0, rel=0.05)
    assert full.trace_summary()["gpu_util_pct_max"] == 100.0


def test_sim_noise_is_bounded_and_seeded():
    clock = ManualClock(1000.0)
    m = SimMeter(clock=clock, noise_rel=0.02, sync=lambda: None)
    r = run(m, clock, 10.0, 1.0)
    powers = [s.power_w for s in r.trace]
    assert len(set(powers)) > 100  # there is noise
    assert r.avg_power_w == pytest.approx(300.0, rel=0.01)  # and it averages out over 1,000 samples


def test_sim_counter_is_quantised_and_alignment_removes_the_error():
    clock = ManualClock(0.0)
    m = SimMeter(clock=clock, noise_rel=0.0, sync=lambda: None)
    m.set_load(1.0)
    clock.t = 0.25
    assert m.read_counter_j() == pytest.approx(0.2 * 300.0)  # last update at 0.2 s
    clock.t = 0.31
    assert m.read_counter_j(0) == pytest.approx(0.3 * 300.0)
    with pytest.raises(MeterError):
        m.read_counter_j(3)


class TickingClock(ManualClock):
    """Advances 1 ms on every reading, like time passing while a loop polls."""

    def __call__(self):
        self.t += 0.001
        return self.t


def test_sim_aligned_window_edges_sit_on_counter_updates():
    clock = TickingClock(0.0)
    m = SimMeter(clock=clock, noise_rel=0.0, sync=lambda: None, counter_period_s=0.02)
    with m.window(load=1.0, align=True) as w:
        clock.t += 0.0503
    assert w.aligned
    # Both edges sit right after counter updates, so counter and duration agree to a few clock ticks,
    # although the window is not a whole number of update periods long.
    assert w.counter_energy_j == pytest.approx(300.0 * w.duration_s, abs=300.0 * 0.004)
    with m.window(load=1.0, align=False) as u:
        clock.t += 0.0503
    assert not u.aligned


def test_measure_idle_and_dynamic_energy():
    clock = ManualClock(1000.0)
    m = SimMeter(clock=clock, noise_rel=0.0, sync=lambda: None)
    m._idle_wait = lambda s: setattr(clock, "t", clock.t + s)
    assert m.measure_idle(2.0) == pytest.approx(60.0)
    r = run(m, clock, 4.0, 1.0)
    assert r.idle_power_w == pytest.approx(60.0)
    assert r.idle_energy_j == pytest.approx(240.0)
    assert r.dynamic_energy_j == pytest.approx(1200.0 - 240.0)
    d = r.to_dict()
    assert d["dynamic_energy_j"] == pytest.approx(960.0) and "trace" not in d
    assert len(r.to_dict(with_trace=True)["trace"]) == len(r.trace)
    with pytest.raises(ConfigError, match="positive"):
        m.measure_idle(0)


def test_the_idle_window_spans_host_work_done_meanwhile():
    clock = ManualClock(1000.0)
    m = SimMeter(clock=clock, noise_rel=0.0, sync=lambda: None)
    waits: list[float] = []
    m._idle_wait = lambda s: (waits.append(s), setattr(clock, "t", clock.t + s))

    def imports(seconds: float) -> None:
        clock.t += seconds  # host work: the device stays idle

    assert m.measure_idle(2.0, meanwhile=lambda: imports(0.5)) == pytest.approx(60.0)
    assert waits == [pytest.approx(1.5)]  # the window still lasts 2 s: the work took 0.5 of them
    m.measure_idle(2.0, meanwhile=lambda: imports(3.0))
    assert waits[-1] == 0.0  # longer work: no wait of its own

    def fails() -> None:
        raise RuntimeError("import failed")

    with pytest.raises(RuntimeError, match="import failed"):
        m.measure_idle(2.0, meanwhile=fails)
    assert len(waits) == 2  # an error ends the window at once, without waiting out the baseline


def test_window_syncs_at_both_edges_and_forwards_fields():
    calls = []
    clock = ManualClock(1000.0)
    m = SimMeter(clock=clock, sync=lambda: calls.append(clock.t))
    w = m.begin_window(load=0.3)
    with pytest.raises(AttributeError, match="once the window has ended"):
        _ = w.energy_j
    clock.t += 1.5
    r = w.end()
    assert calls == [1000.0, 1001.5]
    assert w.energy_j == r.energy_j and w.duration_s == 1.5
    assert isinstance(r, WindowResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.energy_j = 0  # type: ignore[misc]
    with pytest.raises(MeterError):
        w.end()
    with pytest.raises(MeterError):
        w.begin()


def test_window_with_exception_leaves_no_result():
    m = SimMeter(sync=lambda: None)
    with pytest.raises(ValueError), m.window(load=1.0) as w:
        raise ValueError("boom")
    assert w.result is None


def test_multi_device_sim_sums_devices():
    clock = ManualClock(1000.0)
    m = SimMeter([0, 1], clock=clock, noise_rel=0.0, sync=lambda: None)
    r = run(m, clock, 1.0, 1.0)
    assert [d.device for d in r.devices] == [0, 1]
    assert r.energy_j == pytest.approx(600.0)
    assert m.describe()["simulated"] is True


def test_measure_callable_three_line_api():
    calls = []
    r = joulebench.measure_callable(lambda: calls.append(1), meter="sim", repeat=3)
    assert calls == [1, 1, 1]
    assert r.meter == "sim" and r.duration_s >= 0 and r.energy_j >= 0
    m = SimMeter(sync=lambda: None)
    assert joulebench.measure_callable(lambda: None, meter=m).meter == "sim"


def test_integrate_trapezoid_edges():
    assert integrate_trapezoid([], [], 0, 1) is None
    assert integrate_trapezoid([0.5], [10.0], 0, 1) == 10.0  # held to both edges
    # Linear ramp 0 -> 10 W over [0, 2], integrate [0.5, 1.5]: interpolated edges, exact 5 J.
    assert integrate_trapezoid([0, 1, 2], [0, 5, 10], 0.5, 1.5) == pytest.approx(5.0)
    assert integrate_trapezoid([0, 1], [None, 4.0], 0, 2) == 8.0


def test_background_sampler_records_error_and_stops():
    n = {"calls": 0}

    def read(t):
        n["calls"] += 1
        if n["calls"] >= 3:
            raise OSError("device gone")
        return [t]

    s = BackgroundSampler(read, interval_s=0.001)
    s.start()
    s.thread.join(5.0)
    assert not s.running
    assert isinstance(s.error, OSError)
    assert s.stop() == s.readings and n["calls"] == 3


def test_combine_readings_requires_devices():
    with pytest.raises(MeterError):
        combine_readings("sim", [], duration_s=1.0, started_at=0.0)
