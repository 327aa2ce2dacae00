"""Compiling ahead: child processes fill inductor's cache; the worker waits for them and loads what they compiled."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap
import time
from functools import partial

import pytest

from joulebench.errors import ConfigError
from joulebench.runtimes.ahead import JOBS_ENV, AheadCompiles, AheadJob, ahead_jobs
from joulebench.sweep.scan import scan_search
from joulebench.sweep.search import plateau_search
from joulebench.sweep.search_result import Point

RECORDING = "compile_on_cpu:RecordingRuntime"
SPEC = {"model": "m", "arch": "m", "tag": None, "img_size": 8, "input_shape": [3, 8, 8]}


def job(tmp_path, batch, program="static", **options):
    return AheadJob(RECORDING, {"log": str(tmp_path / "log"), **options}, "cpu", SPEC, batch, program)


def test_the_number_of_children_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(JOBS_ENV, raising=False)
    assert ahead_jobs() == 0  # off unless asked: on an H100 host it made sweeps no shorter
    monkeypatch.setenv(JOBS_ENV, "3")
    assert ahead_jobs() == 3
    monkeypatch.setenv(JOBS_ENV, "two")
    with pytest.raises(ConfigError, match="JOULEBENCH_COMPILE_AHEAD must be a whole number"):
        ahead_jobs()


def test_a_job_travels_as_json_and_is_keyed_by_what_waits_for_it(tmp_path):
    j = job(tmp_path, 512)
    assert AheadJob.from_json(j.to_json()) == j
    assert j.key == ("static", 512)
    assert job(tmp_path, 2, "scout").key == ("scout", None)


@pytest.mark.slow
def test_children_compile_together_and_report_each_outcome(tmp_path):
    ahead = AheadCompiles(jobs=2)
    t0 = time.monotonic()
    started = ahead.start([job(tmp_path, 64, sleep_s=1.5), job(tmp_path, 256, sleep_s=1.5), job(tmp_path, 1024)])
    assert started == 2  # the third is left to the worker
    assert ahead.running("static", 64) and ahead.running("static", 256) and not ahead.running("static", 1024)
    outcomes = ahead.wait_all()
    assert [(o.batch, o.ok) for o in outcomes] == [(64, True), (256, True)]
    assert time.monotonic() - t0 < 1.5 * 2  # side by side, not one after the other
    assert sorted((tmp_path / "log").read_text().splitlines()) == ["256 static cpu", "64 static cpu"]
    assert not ahead.running("static", 64) and ahead.outcomes == outcomes


@pytest.mark.slow
def test_a_failed_or_stuck_child_is_an_outcome_with_its_reason(tmp_path):
    ahead = AheadCompiles(jobs=3, timeout_s=1.0)
    ahead.start([job(tmp_path, 8, fail="inductor could not lower aten.foo"), job(tmp_path, 16, sleep_s=30)])
    failed, stuck = ahead.wait_all()
    assert not failed.ok and "RuntimeError: inductor could not lower aten.foo" in failed.reason
    assert not stuck.ok and "still compiling after 1 s; stopped" in stuck.reason and stuck.compile_s < 5


def test_the_scouting_program_of_batch_1_is_no_childs(tmp_path):
    ahead = AheadCompiles(jobs=1)
    ahead.start([job(tmp_path, 2, "scout", sleep_s=0.2)])
    assert not ahead.running("scout", 1)  # dynamo specialises size 1: its program compiles in the worker
    assert ahead.running("scout", 2) and ahead.running("scout", 4096)
    assert not ahead.running("static", 2)
    ahead.close()
    assert not ahead.running("scout", 2)


@pytest.mark.slow
def test_a_child_whose_worker_is_killed_exits_too(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys
        from joulebench.runtimes.ahead import AheadCompiles, AheadJob
        ahead = AheadCompiles(jobs=1)
        ahead.start([AheadJob({RECORDING!r}, {{"log": {str(tmp_path / "log")!r}, "sleep_s": 60}}, "cpu", {SPEC!r},
                              8, "static")])
        print(next(iter(ahead._running.values())).proc.pid, flush=True)
        os._exit(0)  # the worker dies without stopping its child
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    pid = int(out.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("search", [scan_search, plateau_search])
def test_the_searches_announce_the_first_scouts_and_the_finalists_before_measuring_them(search):
    curve = {1: 9.0, 2: 5.0, 4: 4.0, 8: 3.0, 16: 3.1, 32: 3.05, 64: 4.5, 128: 6.0, 256: 9.0}
    said, measured = [], []

    def measure(batch, phase):
        measured.append((batch, phase))
        return Point(batch, "ok" if batch in curve else "oom", curve.get(batch), phase)

    def ahead(batches, phase):
        said.append((batches, phase, len(measured)))

    search(measure, max_batch=256, ahead=ahead)
    assert said[0] == ([2], "scout", 0)  # before anything was measured
    finals = [b for b, p in measured if p == "full"]
    batches, phase, at = said[-1]
    assert phase == "full" and measured[at][1] == "full"  # told just before the first final
    assert set(finals) <= set(batches) | {measured[at][0]}
    assert finals[0] == batches[0]


def test_a_search_without_ahead_measures_the_same():
    curve = {1: 9.0, 2: 5.0, 4: 4.0, 8: 3.0, 16: 3.1, 32: 3.05, 64: 4.5}

    def measure(batch, phase):
        return Point(batch, "ok" if batch in curve else "oom", curve.get(batch), phase)

    with_hint = scan_search(measure, max_batch=64, ahead=lambda b, p: None).measured
    assert scan_search(measure, max_batch=64).measured == with_hint


needs_cc = pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None, reason="needs a C compiler")


@pytest.mark.slow
@needs_cc
def test_the_worker_loads_what_children_compiled_and_never_prepares_beside_a_running_child(
    tiny_cnn, tmp_path, monkeypatch, request
):
    torch = pytest.importorskip("torch")
    from torch._dynamo.utils import counters

    from compile_on_cpu import CpuCompiledRuntime

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # cold, and the children's too
    monkeypatch.setenv(JOBS_ENV, "3")
    # a thread count a fresh process would not have (as after model statistics): it is in inductor's cache key,
    # so the children must take the worker's on
    request.addfinalizer(partial(torch.set_num_threads, torch.get_num_threads()))
    torch.set_num_threads(1 if torch.get_num_threads() > 1 else 2)
    rt = CpuCompiledRuntime()
    rt.load(tiny_cnn("jb_ahead_cnn", classes=10, size=16))
    counters.clear()
    assert rt.compile_ahead([2], scout=True) == 1
    rt.prepare_scout(1)  # batch 1 compiles here while the child compiles the dynamic-batch program
    assert not rt._ahead.running("scout", 2)  # prepared only once the child was done
    rt.release()
    fn = rt.prepare_scout(3)  # batch 3 recompiles dynamically: from the child's cache entry
    x = rt.make_inputs(3)[1]
    with torch.inference_mode():
        torch.testing.assert_close(fn(x), rt.model(x), rtol=1e-4, atol=1e-5)
    del fn
    rt.release()
    assert rt.compile_ahead([4, 8]) == 2
    for bs in (8, 4):
        rt.prepare(bs)
        rt.release()
    assert [(o.program, o.batch, o.ok) for o in rt.ahead_outcomes] == [
        ("scout", 2, True),
        ("static", 4, True),
        ("static", 8, True),
    ]
    assert counters["inductor"]["fxgraph_cache_hit"] == 3, dict(
        counters["inductor"]
    )  # the dynamic program and both finals
    assert counters["inductor"]["fxgraph_cache_miss"] == 1  # batch 1's own program only
    rt.close()


def test_compile_ahead_is_off_where_it_cannot_help(tiny_cnn, monkeypatch):
    pytest.importorskip("torch")
    from compile_on_cpu import CpuCompiledRuntime

    spec = tiny_cnn("jb_ahead_off", classes=10, size=16)
    monkeypatch.setenv(JOBS_ENV, "3")
    rt = CpuCompiledRuntime()
    assert rt.compile_ahead([4, 8]) == 0  # nothing loaded
    rt.load(spec)
    monkeypatch.setenv(JOBS_ENV, "0")
    assert rt.compile_ahead([4, 8]) == 0
    monkeypatch.delenv(JOBS_ENV)
    assert rt.compile_ahead([4, 8]) == 0  # the default
    monkeypatch.setenv(JOBS_ENV, "3")
    tuned = CpuCompiledRuntime(compile_mode="max-autotune-no-cudagraphs")
    tuned.load(spec)
    assert tuned.compile_ahead([4, 8]) == 0  # its programs depend on autotuning a child would not share
    static = CpuCompiledRuntime(scout_dynamic=False)
    static.load(spec)
    assert static.compile_ahead([2], scout=True) == 0


def test_jobs_carry_the_runtime_as_the_child_rebuilds_it(tiny_cnn, monkeypatch):
    pytest.importorskip("torch")
    from compile_on_cpu import CpuCompiledRuntime

    started = []
    monkeypatch.setenv(JOBS_ENV, "3")
    monkeypatch.setattr(AheadCompiles, "start", lambda self, jobs: started.extend(jobs) or len(jobs))
    rt = CpuCompiledRuntime(seed=7)
    spec = tiny_cnn("jb_ahead_jobs", classes=10, size=16)
    rt.load(spec)
    assert rt.compile_ahead([256, 64]) == 2
    assert [(j.batch, j.program) for j in started] == [(256, "static"), (64, "static")]
    j = started[0]
    assert j.runtime_class == "compile_on_cpu:CpuCompiledRuntime" and j.options == rt.options and j.device == "cpu"
    assert j.threads == pytest.importorskip("torch").get_num_threads()
    assert j.spec == dataclasses.asdict(spec)
    assert rt.compile_ahead([1, 8], scout=True) == 1 and started[-1].batch == 2  # batch 1 is never dynamic


@pytest.mark.slow
def test_a_task_hands_its_runtime_the_first_scout_then_the_finalists_before_measuring_them(monkeypatch):
    pytest.importorskip("timm")
    from joulebench.runtimes.cpu import CPUFP32Runtime
    from joulebench.sweep import execution
    from joulebench.sweep.tasks import SweepOptions, Task

    spec = {"model": "test_vit.r160_in1k", "arch": "test_vit", "tag": "r160_in1k", "img_size": 32}
    spec |= {"input_shape": [3, 32, 32], "custom": False, "weights": None, "default_img_size": 160}
    events: list[dict] = []
    asked = []

    def compile_ahead(self, batches, *, scout=False):
        asked.append((list(batches), scout, sum(e["type"] == "measurement" for e in events)))
        return 0

    monkeypatch.setattr(CPUFP32Runtime, "compile_ahead", compile_ahead)
    opts = SweepOptions(meter="sim", warmup_s=0.01, min_window_s=0.05, min_iters=2, idle_s=0.05, max_batch=16)
    result = execution.execute_task(Task(run_id="r", spec=spec, runtime="cpu-fp32", options=opts), emit=events.append)
    assert result.summary.status == "ok", result.summary.error
    assert asked[0] == ([2], True, 0)  # the scouting program, while batch 1 is still to compile
    finals = {m.batch_size for m in result.measurements if m.trace_summary["phase"] == "full"}
    scouts = sum(m.trace_summary["phase"] == "scout" for m in result.measurements)
    if len(asked) == 1:  # the sim meter's noise left one finalist: it compiles as soon in the worker itself
        assert len(finals) == 1
    else:  # the finalists, after the last scout and before the first final
        assert [(scout, measured) for _, scout, measured in asked[1:]] == [(False, scouts)]
        assert finals <= set(asked[1][0]) and len(asked[1][0]) > 1


def test_a_task_asks_for_children_where_the_worker_has_something_else_to_compile_meanwhile():
    from joulebench.sweep.execution import TaskExecution
    from joulebench.sweep.tasks import SweepOptions, Task

    class Runtime:
        def __init__(self):
            self.asked = []

        def compile_ahead(self, batches, *, scout=False):
            self.asked.append((batches, scout))
            return len(batches)

    ex = TaskExecution(Task(run_id="r", spec=dict(SPEC), runtime="cpu-fp32", options=SweepOptions(meter="sim")))
    ex.runtime = Runtime()
    ex.stored = {(1, "scout"): Point(1, phase="scout")}  # batch 1 kept from an earlier attempt: nothing to compile
    ex.compile_ahead([2], "scout")
    ex.stored = {}
    ex.compile_ahead([2], "scout")  # batch 1 compiles in the worker meanwhile
    ex.measurements.append(Point(1, phase="scout"))
    ex.compile_ahead([512], "full")  # a lone final: as fast in the worker
    ex.stored = {(64, "full"): Point(64)}  # measured by an earlier attempt: nothing to compile
    ex.compile_ahead([512, 64], "full")
    ex.compile_ahead([512, 64, 2048], "full")
    assert ex.runtime.asked == [([2], True), ([512, 2048], False)]


def test_dtypes_and_memory_formats_pickle_by_one_path_whatever_the_import_order():
    import pickle

    torch = pytest.importorskip("torch")
    from joulebench.runtimes.compiled import stable_torch_pickles

    stable_torch_pickles()
    for obj in (torch.channels_last, torch.contiguous_format, torch.float16, torch.float32):
        data = pickle.dumps(obj)
        assert b"joulebench.runtimes.compiled" in data and b"_torch_attribute" in data
        assert pickle.loads(data) is obj
