"""Custom model factories (``worker_models:NAME``) for the worker tests: models that crash, hang or check their process.

Workers import this module through ``PYTHONPATH`` (the tests put this folder on it), as a user's own factory.
"""

from __future__ import annotations

import os
import signal
import time

import torch
from torch import nn


class _Tiny(nn.Module):
    """A convolution and a mean; kills its own process at batches of ``kill_at`` and more."""

    def __init__(self, kill_at: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.kill_at = kill_at

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kill_at is not None and x.shape[0] >= self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
        return self.conv(x).mean(dim=(1, 2, 3))


def tiny() -> nn.Module:
    """A model that works."""
    return _Tiny()


def killed_at_batch_4() -> nn.Module:
    """A model whose worker is killed by SIGKILL at batch 4."""
    return _Tiny(kill_at=4)


def exits() -> nn.Module:
    """A model whose construction ends the worker with exit status 7."""
    os._exit(7)


def hangs() -> nn.Module:
    """A model whose construction never ends."""
    time.sleep(600)
    return _Tiny()


def forked_probe() -> nn.Module:
    """A model that works only in a worker forked from a zygote, set up as a fresh worker would be.

    Its worker must be a child of another process than the test (``JOULEBENCH_TEST_PARENT_PID``), lead its own
    session, see only its device (``CUDA_VISIBLE_DEVICES`` equal to the sweep's device index, when it has one) and
    be able to use CUDA (not in torch's "bad fork" state, which a parent that initialised CUDA leaves).
    """
    problems = []
    if os.getppid() == int(os.environ["JOULEBENCH_TEST_PARENT_PID"]):
        problems.append("the worker is the test's own child, not the zygote's")
    if os.getsid(0) != os.getpid():
        problems.append("the worker does not lead its own session")
    index = os.environ.get("JOULEBENCH_DEVICE_INDEX")
    if index is not None and os.environ.get("CUDA_VISIBLE_DEVICES") != index:
        problems.append(f"CUDA_VISIBLE_DEVICES is {os.environ.get('CUDA_VISIBLE_DEVICES')!r}, not {index!r}")
    if torch.cuda._is_in_bad_fork():
        problems.append("CUDA cannot be used: the zygote initialised it")
    if problems:
        raise RuntimeError("; ".join(problems))
    return _Tiny()
