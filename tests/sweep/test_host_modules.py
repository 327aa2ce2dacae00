"""A runtime's own imports happen inside the worker's idle baseline, where the device waits anyway."""

from __future__ import annotations

import sys

import pytest

from joulebench.runtimes import get_runtime_class
from joulebench.sweep import execution
from joulebench.sweep.tasks import SweepOptions, Task

SPEC = {"model": "test_vit.r160_in1k", "arch": "test_vit", "tag": "r160_in1k", "img_size": 32}
SPEC |= {"input_shape": [3, 32, 32], "custom": False, "weights": None, "default_img_size": 160}


def test_compiled_runtimes_name_inductor_and_the_others_nothing():
    assert "torch._inductor.compile_fx" in execution.runtime_host_modules("compile-fp16")
    assert execution.runtime_host_modules("torch-fp32") == ()
    assert execution.runtime_host_modules("no-such-runtime") == ()  # the load reports the unknown name, not the idle


def test_import_frameworks_imports_the_modules_it_is_given_and_skips_missing_packages(monkeypatch):
    monkeypatch.delitem(sys.modules, "email.mime.text", raising=False)
    execution.import_frameworks(("email.mime.text", "no_such_package.sub"))
    assert "email.mime.text" in sys.modules


@pytest.mark.slow
def test_a_task_imports_its_runtimes_modules_during_the_idle_baseline(monkeypatch):
    pytest.importorskip("timm")
    events: list[dict] = []
    calls: list[tuple[tuple[str, ...], list[str]]] = []
    real = execution.import_frameworks

    def recording(modules: tuple[str, ...] = ()) -> None:
        calls.append((modules, [e["stage"] for e in events if "stage" in e]))
        real(modules)

    monkeypatch.setattr(execution, "import_frameworks", recording)
    monkeypatch.setattr(get_runtime_class("cpu-fp32"), "host_modules", ("email.mime.text",))
    opts = SweepOptions(meter="sim", warmup_s=0.01, min_window_s=0.05, min_iters=2, idle_s=0.05, max_batch=2)
    result = execution.execute_task(Task(run_id="r", spec=SPEC, runtime="cpu-fp32", options=opts), emit=events.append)
    assert result.summary.status == "ok", result.summary.error
    assert calls == [(("email.mime.text",), ["idle"])]  # once, inside the idle window, before the model loads
