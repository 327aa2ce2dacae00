"""Probes of the machine a sweep runs on, each a module run as ``python3 -m joulebench.diagnostics.NAME``.

- :mod:`~joulebench.diagnostics.memory_limits`: where a process reserving GPU memory stops (CUDA's
  out-of-memory error, or a kill because host memory ran out first).
- :mod:`~joulebench.diagnostics.pinned_memory`: whether ``torch.compile`` leaves page-locked host memory behind
  in a worker, and whether the runtime's ``prepare`` gives it back.

Both need a CUDA GPU to probe anything; their report logic (``summarize``) runs anywhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def child_process(module: str, *args: str, env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run ``python3 -m MODULE ARGS`` on this very joulebench.

    The child imports the package from the folder this one was imported from (first on ``PYTHONPATH``), so a
    source checkout probes its own code rather than another installed copy.

    Args:
        module: the module to run, e.g. ``joulebench.diagnostics.memory_limits``.
        *args: its command-line arguments.
        env: the environment to start from (default: this process's).

    Returns:
        The argument list for :class:`subprocess.Popen` and the child's environment.
    """
    env = dict(os.environ if env is None else env)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return [sys.executable, "-m", module, *args], env
