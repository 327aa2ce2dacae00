"""Fixtures the whole suite shares. Record and dataset builders are in factories.py, test doubles in fakes.py;
the NVML fake ships with the package (:mod:`joulebench.meters.testing`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from joulebench.meters.testing import FakeNvml, fake_nvml

#: This checkout's src/ (pytest puts it first on sys.path; subprocesses need it on PYTHONPATH).
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
def src_env() -> dict[str, str]:
    """``os.environ`` with this checkout's src/ first on PYTHONPATH, for subprocesses that import joulebench.

    Without it a subprocess imports whichever joulebench is installed (another checkout's editable install).
    """
    return {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture
def install_nvml() -> Iterator[Callable[..., FakeNvml]]:
    """``install_nvml(fake=None)`` makes joulebench read a :class:`FakeNvml` (default: one H200) instead of the driver.

    Returns the fake; it stays installed until the test ends (:func:`joulebench.meters.testing.fake_nvml`).
    """
    with contextlib.ExitStack() as stack:
        yield lambda fake=None: stack.enter_context(fake_nvml(fake))
