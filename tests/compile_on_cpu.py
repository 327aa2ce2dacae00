"""Runtime classes that child compiles (joulebench.runtimes.ahead) can import by path: the tests' directory is on it.

Classes made inside a test module cannot be found by a child process, so the ahead-compile tests use these.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from joulebench.runtimes.compiled import CompiledRuntime


class CpuCompiledRuntime(CompiledRuntime):
    """``CompiledRuntime`` on the CPU in fp32: a real inductor compile, C++ kernels instead of Triton ones."""

    name = "compile-fp32-cpu-test"
    precision = "fp32"
    device_type = "cpu"


class RecordingRuntime:
    """Stands in for a runtime in a child: records the compile it was asked for in ``log``, as asked.

    Options: ``log`` (a file the child appends ``batch program`` to), ``sleep_s`` (how long compiling takes) and
    ``fail`` (an error message to raise instead).
    """

    def __init__(self, device: str | None = None, log: str = "", sleep_s: float = 0.0, fail: str = ""):
        self.device, self.log, self.sleep_s, self.fail = device, Path(log), sleep_s, fail

    def load(self, spec: Any) -> None:
        """Nothing to build."""

    def compile_only(self, batch_size: int, *, scout: bool = False) -> int:
        """Sleep, then fail or record the call."""
        time.sleep(self.sleep_s)
        if self.fail:
            raise RuntimeError(self.fail)
        with self.log.open("a") as f:
            f.write(f"{batch_size} {'scout' if scout else 'static'} {self.device}\n")
        return 1
