"""``cpu-fp32``: PyTorch FP32 on the CPU (for the RAPL meter on real hosts, and the simulated meter anywhere)."""

from __future__ import annotations

from joulebench.errors import ConfigError
from joulebench.runtimes import register_runtime
from joulebench.runtimes.base import import_torch
from joulebench.runtimes.torch_eager import TorchRuntime


@register_runtime("cpu-fp32")
class CPUFP32Runtime(TorchRuntime):
    """Eager PyTorch FP32 on the CPU under ``inference_mode``.

    Options (besides channels_last and seed):
        threads: ``torch.set_num_threads`` for the process; None keeps PyTorch's choice (recorded).
    """

    name = "cpu-fp32"
    precision = "fp32"
    device_type = "cpu"
    extra = "torch"
    summary = "eager PyTorch FP32 on the CPU"
    OPTIONS = {**TorchRuntime.OPTIONS, "threads": None}

    def _check_options(self) -> None:
        super()._check_options()
        threads = self.options["threads"]
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ConfigError(f"threads must be a positive integer, got {threads!r}")

    def _apply_process_settings(self) -> None:
        super()._apply_process_settings()
        if self.options["threads"] is not None:
            import_torch().set_num_threads(int(self.options["threads"]))
