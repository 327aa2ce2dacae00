"""The per-batch protocol with the simulated meter and a fake runtime; summaries from measurement rows."""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import pytest

from fakes import spin
from joulebench.meters.sim import SimMeter
from joulebench.store.records import BatchMeasurement
from joulebench.sweep.protocol import (
    WindowPlan,
    block_ci95_rel,
    images_at,
    load_hint,
    measure_batch,
    percentile,
    plan_for,
    ratio_ci95_rel,
    to_measurement,
)
from joulebench.sweep.summary import optimal, summarize, within_budget
from joulebench.sweep.tasks import SweepOptions


class WatchedSim(SimMeter):
    """A sim meter that knows whether a window is open."""

    def __init__(self, **kw):
        super().__init__(counter_period_s=0.01, **kw)
        self.open = False

    def _begin(self, window):
        super()._begin(window)
        self.open = True

    def _end(self, window):
        self.open = False
        return super()._end(window)


class FakeRuntime:
    name = "fake"
    precision = "fp32"
    device = "cpu"

    def __init__(self, meter, iter_s=0.002):
        self.meter = meter
        self.iter_s = iter_s
        self.last_prepare_s = 0.0
        self.calls: list[tuple[int, bool]] = []
        self.inputs_made_in_window = 0
        self.inputs_made = 0

    def prepare(self, batch):
        self.last_prepare_s = 0.001
        return self._fn

    def _fn(self, x):
        self.calls.append((id(x), self.meter.open))
        time.sleep(self.iter_s)

    def make_inputs(self, batch, n=2):
        self.inputs_made += 1
        self.inputs_made_in_window += self.meter.open
        return [object() for _ in range(n)]

    def synchronize(self):
        pass


def _plan(**kw):
    base = dict(warmup_s=0.02, warmup_min_iters=3, min_window_s=0.1, min_iters=13, precision=None, max_window_s=0.4)
    base.update(kw)
    return WindowPlan(**base)


def test_min_iterations_are_honoured_when_the_window_is_short():
    meter = WatchedSim()
    rt = FakeRuntime(meter, iter_s=0.001)
    run = measure_batch(rt, meter, 4, _plan(min_window_s=0.001, min_iters=13))
    assert run.iterations >= 13
    assert run.images == run.iterations * 4


def test_min_window_is_honoured_and_inputs_rotate_without_creation_inside():
    meter = WatchedSim()
    rt = FakeRuntime(meter, iter_s=0.002)
    run = measure_batch(rt, meter, 8, _plan(min_window_s=0.15, min_iters=3))
    assert run.duration_s >= 0.15
    in_window = [xid for xid, is_open in rt.calls if is_open]
    assert len(in_window) == run.iterations
    assert len(set(in_window)) == 2  # two buffers
    assert all(a != b for a, b in zip(in_window, in_window[1:], strict=False))  # alternating
    assert rt.inputs_made == 1 and rt.inputs_made_in_window == 0
    warm = [xid for xid, is_open in rt.calls if not is_open]
    assert len(warm) >= 3 and run.warmup_iters == len(warm)


def test_precision_target_extends_the_window_up_to_the_maximum():
    meter = WatchedSim(noise_rel=0.05)
    rt = FakeRuntime(meter, iter_s=0.002)
    loose = measure_batch(rt, meter, 8, _plan(min_window_s=0.1, min_iters=3, precision=0.5))
    assert len(loose.segments) == 1
    tight = measure_batch(rt, meter, 8, _plan(min_window_s=0.1, min_iters=3, precision=1e-9, max_window_s=0.3))
    assert len(tight.segments) > 1
    assert tight.duration_s >= 0.3
    # extensions are at least a quarter of the minimum window and stop once the maximum is reached
    assert len(tight.segments) <= 1 + (0.3 - 0.1) / (0.1 / 4) + 1
    assert tight.ci95_rel is not None and tight.subwindows >= 3


def test_measurement_row_is_consistent_and_marks_the_simulation():
    meter = WatchedSim()
    meter.measure_idle(0.02)
    rt = FakeRuntime(meter)
    run = measure_batch(rt, meter, 16, _plan())
    base = dict(run_id="r", model="m.tag", img_size=32, runtime="fake", precision="fp32")
    row = to_measurement(run, base, meter, {"gpu_name": "sim", "gpu_uuid": "SIM-0", "power_limit_w": 300.0})
    assert row.status == "ok" and row.method == "simulated" and row.meter == "sim"
    # the sim meter has a counter: energy per image comes from the counter-aligned span inside the window
    assert row.trace_summary["epi_source"] == "counter_span" and row.trace_summary["span_s"] > 0
    assert row.energy_per_image_j == pytest.approx(row.energy_j / row.images, rel=0.2)
    assert row.dynamic_energy_per_image_j < row.energy_per_image_j
    assert row.latency_p50_s <= row.latency_p95_s
    assert row.trace_summary["phase"] == "full"
    assert row.trace_summary["load_hint"] == pytest.approx(load_hint(16))
    assert row.peak_memory_b is None  # a simulated trace's memory is invented, not reported
    # the host's memory is real even under the simulated meter: this process's resident set, the machine's free
    ts = row.trace_summary
    assert ts["host_available_b"] > 0 and ts["host_rss_b"] > 10 * 2**20  # torch alone is more than 10 MiB
    parts = ts["host_rss_anon_b"] + ts["host_rss_file_b"] + ts["host_rss_shmem_b"]
    assert parts == ts["host_rss_b"]  # the kernel's VmRSS is the sum of its three parts, read at one moment


def test_host_memory_reads_the_kernel_figures_in_bytes(monkeypatch):
    import builtins
    import io

    from joulebench.sweep.protocol import host_memory

    files = {"/proc/self/status": "Name: python\nVmRSS:\t  2048 kB\n", "/proc/meminfo": "MemAvailable: 4 kB\n"}
    real_open = builtins.open
    monkeypatch.setattr(
        builtins, "open", lambda p, *a, **k: io.StringIO(files[p]) if p in files else real_open(p, *a, **k)
    )
    none = dict.fromkeys(("host_rss_peak_b", "host_rss_anon_b", "host_rss_file_b", "host_rss_shmem_b"))
    assert host_memory() == {**none, "host_rss_b": 2048 * 1024.0, "host_available_b": 4096.0}  # an older kernel
    files["/proc/self/status"] += "VmHWM:\t  4096 kB\nRssAnon:\t  1024 kB\nRssFile:\t   768 kB\nRssShmem:\t 256 kB\n"
    files["/proc/self/status"] += "Threads:\t8\nCpus_allowed_list:\t0-15\n"  # fields without kB are not sizes
    assert host_memory() == {
        "host_rss_b": 2048 * 1024.0,
        "host_rss_peak_b": 4096 * 1024.0,
        "host_rss_anon_b": 1024 * 1024.0,
        "host_rss_file_b": 768 * 1024.0,
        "host_rss_shmem_b": 256 * 1024.0,
        "host_available_b": 4096.0,
    }
    files.clear()
    monkeypatch.setattr(builtins, "open", lambda p, *a, **k: (_ for _ in ()).throw(FileNotFoundError(p)))
    assert host_memory() == {**none, "host_rss_b": None, "host_available_b": None}  # not Linux


SMAPS = """\
55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0                          [heap]
Rss:             5000000 kB
Anonymous:       5000000 kB
7f0000000000-7f0040000000 rw-s 00000000 00:01 1234                       /memfd:cuda (deleted)
Size:            1048576 kB
Rss:              700000 kB
VmFlags: rd wr sh mr mw me ms sd
7f0040000000-7f0080000000 rw-s 00000000 00:01 1235                       /memfd:cuda (deleted)
Rss:              400000 kB
7f0080000000-7f0080001000 rw-s 00000000 00:00 0
Rss:                   4 kB
7f0090000000-7f00a0000000 rw-s 00000000 00:05 77                         /dev/nvidia-uvm
Rss:              100000 kB
7f00b0000000-7f00b0100000 r--p 00000000 08:01 99                         /usr/lib/libcuda.so.1
Rss:               20000 kB
"""


def test_shared_mappings_names_what_holds_shared_memory(tmp_path):
    from joulebench.sweep.protocol import shared_mappings

    (tmp_path / "smaps").write_text(SMAPS)
    top = shared_mappings(str(tmp_path / "smaps"))
    # private mappings (the heap, a library) are not shared memory, however large; one name's mappings add up
    assert top == [
        {"name": "/memfd:cuda (deleted)", "rss_b": 1_100_000 * 1024.0, "mappings": 2},
        {"name": "/dev/nvidia-uvm", "rss_b": 100_000 * 1024.0, "mappings": 1},
        {"name": "[shared anonymous]", "rss_b": 4 * 1024.0, "mappings": 1},
    ]
    assert shared_mappings(str(tmp_path / "smaps"), top=1) == top[:1]
    assert shared_mappings(str(tmp_path / "missing")) == []


def test_host_memory_names_the_shared_mappings_only_when_shared_memory_is_large(monkeypatch):
    import builtins
    import io

    from joulebench.sweep import protocol

    status = "VmRSS:\t 3000000 kB\nRssShmem:\t{} kB\n"
    files = {"/proc/meminfo": "MemAvailable: 4 kB\n", "/proc/self/smaps": SMAPS}
    real_open = builtins.open
    monkeypatch.setattr(
        builtins, "open", lambda p, *a, **k: io.StringIO(files[p]) if p in files else real_open(p, *a, **k)
    )
    files["/proc/self/status"] = status.format(1000)
    assert "host_shmem_mappings" not in protocol.host_memory()  # 1 MB: not worth reading smaps
    files["/proc/self/status"] = status.format(protocol.SHMEM_DETAIL_B // 1024)
    assert protocol.host_memory()["host_shmem_mappings"][0]["name"] == "/memfd:cuda (deleted)"


GB = 1e9


def _host_row(batch, used_gb, avail_gb, status="ok", peak_gb=None):
    ts = {"host_rss_b": used_gb * GB, "host_available_b": avail_gb * GB}
    if peak_gb is not None:
        ts["host_rss_peak_b"] = peak_gb * GB
    return SimpleNamespace(batch_size=batch, status=status, trace_summary=ts)


def test_host_memory_shortfall_refuses_the_batch_that_killed_resnet18d_on_the_h200():
    from joulebench.sweep.protocol import host_memory_shortfall

    # the H200 rows of resnet18d.ra2_in1k@288 on compile-fp16 (GB): batch 16,384 was killed in session 8
    rows = [_host_row(1024, 1.28, 132.1), _host_row(2048, 14.19, 118.9), _host_row(4096, 31.39, 101.3)]
    rows.append(_host_row(8192, 65.78, 66.19))
    why = host_memory_shortfall(rows, 16384)
    assert why == (
        "host memory: batch 16384 would need about 69 GB more host memory (8.4 MB per image from batches 4096 to"
        " 8192), 66 GB available; not run"
    )
    assert host_memory_shortfall(rows, 12288) is None  # 34 GB of 66: the refinement between them may run
    # a refinement batch measured after 8,192 reads its peak (66 GB): it must not flatten the slope
    later = [*rows, _host_row(6144, 65.79, 66.15, peak_gb=65.79)]
    assert host_memory_shortfall(later, 16384) == host_memory_shortfall(rows, 16384) is not None
    assert host_memory_shortfall(later, 12288) is None
    assert host_memory_shortfall(rows, 8192) == host_memory_shortfall(rows[:3], 8192) is None


def test_host_memory_shortfall_needs_growth_two_good_rows_and_prefers_the_peak():
    from joulebench.sweep.protocol import host_memory_shortfall

    flat = [_host_row(b, 1.3, 2.0) for b in (1, 2, 4, 8)]
    assert host_memory_shortfall(flat, 65536) is None  # memory that does not grow with the batch never stops it
    assert host_memory_shortfall([_host_row(8, 9.0, 1.0)], 16) is None  # one row: no slope
    failed = [_host_row(4, 1.0, 10.0), _host_row(8, 50.0, 10.0, status="oom")]
    assert host_memory_shortfall(failed, 16) is None  # only successful batches count
    # the resident set fell back after the batch, but its peak grew by 1 GB per image
    peaks = [_host_row(4, 1.0, 8.0, peak_gb=4.0), _host_row(8, 1.0, 8.0, peak_gb=8.0)]
    assert "batch 16 would need about 8 GB" in host_memory_shortfall(peaks, 16)
    no_proc = [SimpleNamespace(batch_size=b, status="ok", trace_summary={"host_rss_b": None}) for b in (1, 2)]
    assert host_memory_shortfall(no_proc, 4) is None  # not Linux: nothing to project


@pytest.mark.slow
def test_a_worker_stops_its_search_before_host_memory_runs_out(monkeypatch):
    from joulebench.sweep import protocol
    from joulebench.sweep.tasks import SweepOptions, Task
    from joulebench.sweep.worker import execute_task

    real = protocol.to_measurement

    def growing(run, *a, **k):  # 1 GB of host memory per image on a 30 GB host
        row = real(run, *a, **k)
        used = (1 + run.batch_size) * GB
        host = {"host_rss_b": used, "host_rss_peak_b": used, "host_available_b": 30 * GB - used}
        return dataclasses.replace(row, trace_summary={**row.trace_summary, **host})

    monkeypatch.setattr(protocol, "to_measurement", growing)
    opts = SweepOptions(
        meter="sim", search="paper", warmup_s=0.01, min_window_s=0.02, min_iters=2, idle_s=0.02, max_batch=64
    )
    spec = {"model": "test_vit.r160_in1k", "arch": "test_vit", "tag": "r160_in1k", "img_size": 32}
    spec |= {"input_shape": [3, 32, 32], "custom": False, "weights": None, "default_img_size": 160}
    result = execute_task(Task(run_id="r", spec=spec, runtime="cpu-fp32", options=opts))
    assert result.summary.status == "ok", result.summary.error
    refused = {m.batch_size: m.error for m in result.measurements if m.status == "oom"}
    ran = sorted(m.batch_size for m in result.measurements if m.status == "ok")
    # 32 would need 16 GB more with 13 GB available; bisection then runs 24 and 28 and refuses 30 and 29
    assert sorted(refused) == [29, 30, 32] and refused[32].startswith("host memory: batch 32 would need about 16 GB")
    assert max(ran) == 28 and result.summary.max_batch == 28
    assert [(f.stage, f.batch_size) for f in result.failures] == [("oom", 32), ("oom", 30), ("oom", 29)]


def test_scout_plan_is_shorter_and_the_first_batch_gets_the_full_warmup():
    opts = SweepOptions(warmup_s=3.0, min_window_s=10.0, min_iters=13, precision=0.01)
    full, scout, first = plan_for(opts, "full"), plan_for(opts, "scout"), plan_for(opts, "scout", first=True)
    assert full.min_window_s == 10.0 and full.precision == 0.01
    assert scout.min_window_s < full.min_window_s and scout.precision is None and scout.warmup_s < 3.0
    assert first.warmup_s == 3.0


def test_without_a_counter_energy_per_image_is_the_window_average():
    class NoCounter(WatchedSim):
        has_counter = False

    meter = NoCounter()
    rt = FakeRuntime(meter)
    run = measure_batch(rt, meter, 4, _plan())
    base = dict(run_id="r", model="m", img_size=32, runtime="fake", precision="fp32")
    row = to_measurement(run, base, meter, {})
    assert row.trace_summary["epi_source"] == "window"
    assert row.energy_per_image_j == pytest.approx(row.energy_j / row.images)
    assert row.trace_summary["subwindow_source"] == "trace"  # fixed-length sub-windows over the power trace


def test_the_window_runs_on_until_the_counter_updates_so_the_span_covers_the_minimum():
    meter = WatchedSim()  # counter period 10 ms
    rt = FakeRuntime(meter, iter_s=0.001)
    run = measure_batch(rt, meter, 2, _plan(min_window_s=0.1, min_iters=3))
    [seg] = run.segments
    assert len(seg.counter_marks) >= 2
    assert seg.counter_marks[-1][0] >= 0.1  # the last mark comes after the minimum window


def test_marks_of_a_meter_that_watched_its_counter_are_preferred():
    import dataclasses

    from joulebench.meters.base import CounterMark

    class Watching(WatchedSim):
        def _end(self, window):
            r = super()._end(window)
            # a watcher thread saw the counter change at 10 ms and 90 ms after the window began: 8 J between
            marks = (CounterMark(0.01, 100.0), CounterMark(0.09, 108.0))
            return dataclasses.replace(r, counter_marks=marks)

    meter = Watching()
    rt = FakeRuntime(meter, iter_s=0.002)
    run = measure_batch(rt, meter, 4, _plan(min_window_s=0.12, min_iters=3))
    [seg] = run.segments
    assert [e for _, e in seg.counter_marks] == [100.0, 108.0]
    energy, images, seconds = run.counter_span()
    assert energy == pytest.approx(8.0) and images > 0 and seconds == pytest.approx(0.08, abs=0.02)


def test_load_hint_grows_with_batch_and_saturates():
    hints = [load_hint(b) for b in (1, 8, 32, 256, 4096)]
    assert hints == sorted(hints) and hints[-1] <= 1.0 and hints[0] > 0


def test_ratio_ci_is_zero_for_proportional_subwindows_and_grows_with_noise():
    assert ratio_ci95_rel([2.0, 4.0, 6.0], [1, 2, 3]) == pytest.approx(0.0)
    noisy = ratio_ci95_rel([2.2, 3.6, 6.3, 1.9], [1, 2, 3, 1])
    assert noisy is not None and noisy > 0
    assert ratio_ci95_rel([1.0, 2.0], [1, 2]) is None


def test_block_interval_lets_boundary_errors_cancel_and_keeps_real_variation():
    import random

    rng = random.Random(1)
    n = 100
    # late or early counter updates move energy between neighbouring sub-windows: it cancels in any sum
    shift = [rng.uniform(-0.1, 0.1) for _ in range(n + 1)]
    jittered = [1.0 + shift[k + 1] - shift[k] for k in range(n)]
    ones = [1.0] * n
    assert ratio_ci95_rel(jittered, ones) > 0.01
    assert block_ci95_rel(jittered, ones) < ratio_ci95_rel(jittered, ones) / 1.5  # about 1/sqrt(block size)
    # power that really varies from block to block keeps its width
    drifting = [1.0 + (0.05 if (k // 10) % 2 else -0.05) + rng.gauss(0, 0.01) for k in range(n)]
    assert block_ci95_rel(drifting, ones) > ratio_ci95_rel(drifting, ones) / 2
    assert block_ci95_rel(jittered[:2], ones[:2]) is None  # fewer than three sub-windows: no interval


def test_images_interpolate_within_the_running_iteration():
    comps = [0.1, 0.2, 0.3]
    assert images_at(0.05, comps, 10) == pytest.approx(5.0)
    assert images_at(0.25, comps, 10) == pytest.approx(25.0)
    assert images_at(9.0, comps, 10) == 30.0
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)


def _row(b, e, phase="full", p95=0.01, status="ok"):
    return BatchMeasurement(
        run_id="r",
        model="m",
        img_size=224,
        runtime="rt",
        precision="fp32",
        batch_size=b,
        status=status,
        energy_per_image_j=e,
        latency_p95_s=p95,
        avg_power_w=200.0,
        trace_summary={"phase": phase, "prepare_s": 0.5},
    )


def test_summary_picks_the_full_optimum_batch_one_and_the_budget_batch():
    rows = [
        _row(1, 1.0, "scout", 0.001),
        _row(2, 0.6, "scout", 0.002),
        _row(4, 0.3, "scout", 0.004),  # a lucky scout reading: full windows decide
        _row(4, 0.42, "full", 0.004),
        _row(3, 0.45, "full", 0.003),
        _row(8, 0.5, "scout", 0.2),
        _row(16, None, "scout", None, status="oom"),
    ]
    assert optimal(rows).batch_size == 4 and optimal(rows).energy_per_image_j == 0.42
    assert within_budget(rows, 0.05).batch_size == 4
    s = summarize(
        dict(run_id="r", model="m", img_size=224, runtime="rt", precision="fp32"),
        rows,
        meter="sim",
        power_limit_w=400.0,
        latency_budget_s=0.05,
    )
    assert s.status == "ok" and s.optimal_batch == 4 and s.max_batch == 8
    assert s.energy_per_image_batch1_j == 1.0 and s.budget_batch == 4
    assert s.power_ratio == pytest.approx(0.5)
    assert s.batches_measured == 6 and s.compile_time_s == pytest.approx(3.5)


def test_summary_without_any_success_is_failed_with_the_reason():
    from joulebench.store.records import Failure

    f = Failure(run_id="r", model="m", img_size=224, runtime="rt", stage="oom", reason="out of memory at batch 1")
    s = summarize(
        dict(run_id="r", model="m", img_size=224, runtime="rt", precision="fp32"),
        [_row(1, None, status="oom")],
        [f],
    )
    assert s.status == "failed" and s.error == "out of memory at batch 1" and s.optimal_batch is None


class ScoutingRuntime(FakeRuntime):
    scout_build = "dynamic-batch"

    def __init__(self, meter):
        super().__init__(meter, iter_s=0.001)
        self.prepared: list[tuple[str, int]] = []

    def prepare(self, batch):
        self.prepared.append(("full", batch))
        return super().prepare(batch)

    def prepare_scout(self, batch):
        self.prepared.append(("scout", batch))
        return super().prepare(batch)


def test_scouting_windows_use_the_runtimes_scout_preparation_and_record_it():
    meter = WatchedSim()
    rt = ScoutingRuntime(meter)
    scout = measure_batch(rt, meter, 4, _plan(min_window_s=0.02, min_iters=3, phase="scout"))
    full = measure_batch(rt, meter, 4, _plan(min_window_s=0.02, min_iters=3))
    assert rt.prepared == [("scout", 4), ("full", 4)]
    assert scout.build == "dynamic-batch" and full.build is None
    base = dict(run_id="r", model="m", img_size=8, runtime="fake", precision="fp32")
    row = to_measurement(scout, base, meter, {})
    assert row.trace_summary["build"] == "dynamic-batch" and row.trace_summary["phase"] == "scout"
    # runtimes without a scouting preparation (duck-typed ones too) are prepared as usual
    plain = FakeRuntime(meter, iter_s=0.001)
    assert measure_batch(plain, meter, 2, _plan(min_window_s=0.02, min_iters=3, phase="scout")).build is None


def test_pinned_host_memory_reads_torchs_allocator_once_cuda_is_up(monkeypatch):
    import sys
    from types import SimpleNamespace

    from joulebench.sweep.protocol import host_memory, pinned_host_memory

    stats = {"allocated_bytes.current": 0, "allocated_bytes.peak": 2**33, "num_host_alloc": 12}
    up = [False]
    cuda = SimpleNamespace(is_initialized=lambda: up[0], host_memory_stats=lambda: stats)
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda))
    assert pinned_host_memory() == {}  # CUDA not initialised: torch would report nothing
    up[0] = True
    assert pinned_host_memory() == {"host_pinned_b": 0.0, "host_pinned_peak_b": float(2**33)}
    assert host_memory()["host_pinned_peak_b"] == 2**33
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=SimpleNamespace(is_initialized=lambda: True)))
    assert pinned_host_memory() == {}  # an older torch without the statistics
    monkeypatch.delitem(sys.modules, "torch")
    assert pinned_host_memory() == {}


class SpinningRuntime(FakeRuntime):
    """Each call keeps the host busy for its whole duration, as a launch-bound program does."""

    def _fn(self, x):
        self.calls.append((id(x), self.meter.open))
        spin(self.iter_s)


def test_a_window_stores_how_long_its_launches_kept_the_host():
    meter = WatchedSim()
    meter.measure_idle(0.02)
    plan = WindowPlan(0.02, 3, 0.2, 5, None, 0.2, "full")
    base = dict(run_id="r", model="m.tag", img_size=32, runtime="fake", precision="fp32")
    facts = {"gpu_name": "sim", "gpu_uuid": "SIM-0"}
    busy = to_measurement(measure_batch(SpinningRuntime(meter, 0.004), meter, 8, plan), base, meter, facts)
    idle = to_measurement(measure_batch(FakeRuntime(meter, 0.004), meter, 8, plan), base, meter, facts)
    b, i = busy.trace_summary, idle.trace_summary
    # both launch for about their 4 ms a call: the launches fill most of each window
    assert b["host_launch_per_iter_s"] == pytest.approx(0.004, rel=0.5) and b["host_launch_frac"] > 0.6
    assert i["host_launch_per_iter_s"] == pytest.approx(0.004, rel=0.5) and i["host_launch_frac"] > 0.6
    # only the spinning one used its CPU meanwhile
    assert b["host_thread_busy_frac"] > 0.6 > i["host_thread_busy_frac"]
    assert b["host_thread_cpu_per_iter_s"] > 2 * i["host_thread_cpu_per_iter_s"]
    assert b["host_probe_s"] > 0 and i["host_probe_s"] > 0


def test_the_host_probe_runs_outside_the_meter_window(monkeypatch):
    from joulebench.sweep import protocol

    meter = WatchedSim()
    meter.measure_idle(0.02)
    window_open_at_probe: list[bool] = []
    monkeypatch.setattr(protocol, "host_probe_s", lambda: window_open_at_probe.append(meter.open) or 0.001)
    run = measure_batch(FakeRuntime(meter, 0.002), meter, 8, WindowPlan(0.02, 3, 0.1, 5, None, 0.1, "full"))
    assert window_open_at_probe and not any(window_open_at_probe)  # the probe's CPU loop is never metered
    assert all(s.probe_s == pytest.approx(0.001) for s in run.segments)
