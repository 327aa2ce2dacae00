"""Workers forked from the zygote: the rows fresh workers give, crashes, timeouts and kills as before, fallbacks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from joulebench.sweep import zygote as zygote_module
from joulebench.sweep.executors import get_executor
from joulebench.sweep.tasks import SweepOptions, Task, TaskResult
from joulebench.sweep.worker import run_task
from joulebench.sweep.zygote import Zygote, ZygoteError

pytestmark = pytest.mark.skipif(zygote_module.fork_unsupported() is not None, reason="forked workers need Linux")

HERE = Path(__file__).resolve().parent
#: Short windows and the paper's search to batch 4: batches 1, 2 and 4, each measured once, whatever the timings.
OPTS = SweepOptions(
    meter="sim", search="paper", warmup_s=0.05, warmup_min_iters=1, min_window_s=0.1, min_iters=2, precision=None,
    max_window_s=None, idle_s=0.1, max_batch=4,
)  # fmt: skip


def _timm_task(img_size: int, **changes) -> Task:
    spec = {
        "model": "test_vit.r160_in1k", "arch": "test_vit", "tag": "r160_in1k", "img_size": img_size,
        "input_shape": [3, img_size, img_size], "custom": False, "weights": None, "default_img_size": 160,
    }  # fmt: skip
    return Task(run_id="run1", spec=spec, runtime="cpu-fp32", options=OPTS, **changes)


def _custom_task(factory: str, timeout_s: float = 60.0, **opts) -> Task:
    path = f"worker_models:{factory}"
    spec = {"model": path, "arch": path, "tag": None, "img_size": 16, "input_shape": [3, 16, 16], "custom": True}
    options = SweepOptions(**{**OPTS.__dict__, **opts})
    return Task(run_id="run1", spec=spec, runtime="cpu-fp32", options=options, timeout_s=timeout_s)


@pytest.fixture
def factories_on_path(monkeypatch):
    """Workers find ``worker_models`` through PYTHONPATH; the probe knows the test's pid."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("JOULEBENCH_TEST_PARENT_PID", str(os.getpid()))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def zygote():
    z = Zygote()
    z.start()
    yield z
    z.close()


#: What a row or summary says of where and how it was measured: the same whichever way its worker started.
SAME = ("model", "img_size", "runtime", "precision", "batch_size", "status", "gpu_name", "gpu_uuid", "meter", "method")
#: Figures every measured row and summary has (their values differ from run to run).
FILLED = ("energy_per_image_j", "throughput_ips", "idle_power_w", "avg_power_w", "duration_s", "measured_at")


def _described(rows: list) -> list[tuple]:
    """Each row's (or summary's) fields of :data:`SAME`, its phase, and which of :data:`FILLED` it has."""
    out = []
    for d in (r.to_dict() for r in rows):
        same = tuple(d.get(k) for k in SAME)
        out.append((same, (d.get("trace_summary") or {}).get("phase"), [d.get(k) is not None for k in FILLED]))
    return out


@pytest.mark.slow
def test_forked_workers_give_the_rows_fresh_workers_give(zygote, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    tasks = [_timm_task(32), _timm_task(48)]
    forked = [run_task(t, launcher=zygote) for t in tasks]
    fresh = [run_task(t) for t in tasks]
    assert all(r.ok for r in forked + fresh), [r.summary.error for r in forked + fresh]
    assert [_described(r.measurements) for r in forked] == [_described(r.measurements) for r in fresh]
    assert [m.batch_size for m in forked[0].measurements] == [1, 2, 4]
    starts = (
        {r.measurements[0].trace_summary["worker_start"] for r in forked},
        {m.trace_summary["worker_start"] for r in fresh for m in r.measurements},
    )
    assert starts == ({"fork"}, {"fresh"})  # every row says how its worker started
    assert [_described([r.summary])[0][0] for r in forked] == [_described([r.summary])[0][0] for r in fresh]
    for r in forked:
        assert all(all(filled) for *_, filled in _described(r.measurements))
        assert 0 < r.gpu_seconds == r.summary.gpu_seconds and r.summary.idle_power_w is not None
    assert zygote.failure is None


@pytest.mark.slow
def test_a_forked_worker_is_its_own_session_pinned_to_its_device_and_can_use_cuda(zygote, factories_on_path):
    res = run_task(_custom_task("forked_probe"), 1, launcher=zygote)
    assert res.ok, res.summary.error
    assert {m.batch_size for m in res.measurements} == {1, 2, 4}


@pytest.mark.slow
def test_the_executor_forks_reports_crashes_as_before_and_goes_on(factories_on_path):
    tasks = [_custom_task("killed_at_batch_4"), _custom_task("exits"), _custom_task("forked_probe")]
    results, messages = [], []
    get_executor("local", [None]).run(tasks, results.append, on_message=messages.append)
    assert messages == []  # the zygote started and kept forking
    by_model = {r.task.model.split(":")[1]: r for r in results}
    killed = by_model["killed_at_batch_4"]
    # killed at batch 4, retried at once below it: one result with the crash row and the retry's summary
    assert killed.ok and [(f.stage, f.batch_size) for f in killed.failures] == [("crash", 4)]
    assert killed.failures[0].reason.startswith("worker crashed (killed by signal 9) at batch 4")
    exits = by_model["exits"]
    assert not exits.ok and [f.stage for f in exits.failures] == ["worker"]
    assert "exit status 7" in exits.summary.error
    assert by_model["forked_probe"].ok, by_model["forked_probe"].summary.error


@pytest.mark.slow
def test_a_forked_worker_is_killed_at_its_timeout_and_the_zygote_forks_on(zygote, factories_on_path):
    res = run_task(_custom_task("hangs", timeout_s=1.0), launcher=zygote)
    assert res.failures[-1].stage == "timeout" and res.summary.status == "failed"
    assert 1.0 < res.gpu_seconds < 30.0
    assert run_task(_custom_task("forked_probe"), launcher=zygote).ok


@pytest.mark.slow
def test_stop_and_kill_reach_a_forked_worker(zygote, factories_on_path):
    stop, kill = threading.Event(), threading.Event()
    stop.set()
    assert run_task(_custom_task("tiny"), launcher=zygote, stop=stop).interrupted
    kill.set()
    res = run_task(_custom_task("hangs"), launcher=zygote, stop=stop, kill=kill)
    assert res.interrupted and res.failures[-1].stage == "interrupted"
    assert "killed before it stopped" in res.summary.error


def _fake_python(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fakepython"
    path.write_text(f"#!{sys.executable}\nimport os, sys\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_a_zygote_that_cannot_start_says_why(tmp_path):
    z = Zygote(python=_fake_python(tmp_path, "print('no torch here')\nsys.exit(3)"))
    with pytest.raises(ZygoteError, match=r"exited \(status 3\) before it was ready: no torch here"):
        z.start()


def test_a_zygote_that_takes_too_long_to_start_is_killed(tmp_path):
    z = Zygote(python=_fake_python(tmp_path, "import time\ntime.sleep(600)"), start_timeout_s=0.5)
    with pytest.raises(ZygoteError, match=r"did not import torch and timm within 0.5 s"):
        z.start()
    assert z.proc is None and z.control is None  # killed, not waited for while it "imports"


def test_ctrl_c_while_the_zygote_starts_runs_nothing(monkeypatch):
    def interrupted(self):
        raise KeyboardInterrupt

    seen: list = []
    stop = threading.Event()
    monkeypatch.setattr(Zygote, "start", interrupted)
    get_executor("local", runner=_recording_runner(seen)).run([_custom_task("tiny")], _ignore, stop=stop)
    assert stop.is_set() and seen == []


def test_workers_start_fresh_once_the_zygote_is_gone(tmp_path):
    # a "zygote" that says it is ready and exits: the first request finds it gone
    ready = "fd = int(sys.argv[sys.argv.index('--ready-fd') + 1])\nos.write(fd, b'ready')"
    z = Zygote(python=_fake_python(tmp_path, ready))
    z.start()
    z.proc.wait(timeout=30)
    (tmp_path / "w").mkdir()
    worker = _fake_python(tmp_path / "w", "os._exit(7)")
    res = run_task(_custom_task("tiny"), launcher=z, python=worker)
    assert "exit status 7" in res.summary.error  # the fresh worker ran
    assert "ended" in z.failure_once() and z.failure_once() is None  # said once
    z.close()


def _recording_runner(seen: list):
    def runner(task, device, **kw):
        seen.append(kw.get("launcher"))
        return TaskResult(task)

    runner.takes_launcher = True
    return runner


def _ignore(result: TaskResult) -> None:
    """A sink that keeps nothing."""


def test_the_executor_falls_back_to_fresh_workers(monkeypatch):
    def broken(self):
        raise ZygoteError("the fork server could not start: no")

    seen, messages = [], []
    tasks = [_custom_task("tiny")]
    monkeypatch.setattr(Zygote, "start", broken)
    get_executor("local", runner=_recording_runner(seen)).run(tasks, _ignore, on_message=messages.append)
    assert seen == [None] and len(messages) == 1 and "each worker starts as a fresh process" in messages[0]
    # asked for fresh workers, or on a platform that cannot fork them: no zygote, nothing to say
    monkeypatch.setattr(Zygote, "start", lambda self: pytest.fail("no zygote should start"))
    get_executor("local", runner=_recording_runner(seen), worker_start="fresh").run(tasks, _ignore)
    monkeypatch.setattr(zygote_module, "fork_unsupported", lambda: "forked workers need Linux")
    get_executor("local", runner=_recording_runner(seen)).run(tasks, _ignore, on_message=messages.append)
    assert seen == [None, None, None] and len(messages) == 1


def test_a_deadline_keeps_the_zygote(monkeypatch):
    from joulebench.sweep.deadline import TaskCosts, count_costs

    seen: list = []
    monkeypatch.setattr(Zygote, "start", lambda self: None)  # as if started: the runner is handed it
    runner = count_costs(_recording_runner(seen), TaskCosts.from_tasks({}))
    get_executor("local", runner=runner).run([_custom_task("tiny")], _ignore)
    assert len(seen) == 1 and isinstance(seen[0], Zygote)


def test_auto_forks_eager_workers_and_starts_compiled_ones_fresh(monkeypatch):
    import dataclasses

    seen: list = []
    started: list = []
    monkeypatch.setattr(Zygote, "start", lambda self: started.append(self))
    eager = _custom_task("tiny")
    compiled = dataclasses.replace(eager, runtime="compile-fp16")
    get_executor("local", runner=_recording_runner(seen)).run([compiled, eager, compiled], _ignore)
    assert [type(x).__name__ for x in seen] == ["NoneType", "Zygote", "NoneType"] and len(started) == 1
    # a run of compiled tasks only starts no zygote; an explicit --worker-start overrides the runtimes' choice
    seen.clear()
    get_executor("local", runner=_recording_runner(seen)).run([compiled], _ignore)
    assert seen == [None] and len(started) == 1
    get_executor("local", runner=_recording_runner(seen), worker_start="fork").run([compiled], _ignore)
    assert isinstance(seen[-1], Zygote) and len(started) == 2
    get_executor("local", runner=_recording_runner(seen), worker_start="fresh").run([eager], _ignore)
    assert seen[-1] is None and len(started) == 2


def test_compiled_runtimes_ask_for_fresh_workers():
    from joulebench.runtimes import get_runtime_class, runtime_names
    from joulebench.sweep.execution import runtime_worker_start

    compiled = [n for n in runtime_names() if n.startswith("compile-")]
    assert compiled and all(runtime_worker_start(n) == "fresh" for n in compiled)
    assert runtime_worker_start("torch-fp32") == "fork" and runtime_worker_start("no-such-runtime") == "fork"
    assert all(get_runtime_class(n).worker_start in ("fork", "fresh") for n in runtime_names())


def test_an_unknown_worker_start_is_refused():
    from joulebench.errors import ConfigError

    with pytest.raises(ConfigError, match="--worker-start must be one of auto, fork, fresh"):
        get_executor("local", worker_start="spawn")


def test_the_zygote_forks_only_from_one_thread():
    from joulebench.sweep.zygote_server import check_one_thread

    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        with pytest.raises(ZygoteError, match="forks workers only from one"):
            check_one_thread()
    finally:
        release.set()
        other.join()


@pytest.mark.slow
def test_the_zygote_refuses_to_serve_when_cuda_was_initialised():
    code = "import torch; torch.cuda.is_available(); from joulebench.sweep.zygote_server import preload; preload()"
    env = {**os.environ, "PYTHONPATH": str(Path(zygote_module.__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode != 0 and "CUDA was initialised" in out.stderr
