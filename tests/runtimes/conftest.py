"""Fixtures of the runtime tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from joulebench.models.resolve import ModelSpec, resolve_models


@pytest.fixture
def tiny_cnn(tmp_path, monkeypatch) -> Callable[..., ModelSpec]:
    """``tiny_cnn(module, classes, size)``: the spec of a tiny CNN (conv, ReLU, pool, linear) at ``module:cnn``.

    Tiny because CPU runs of fp16 convolutions are slow; written as a module so it resolves as a custom model does.
    """

    def make(module: str, classes: int, size: int) -> ModelSpec:
        (tmp_path / f"{module}.py").write_text(
            "import torch\n\ndef cnn():\n"
            "    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),\n"
            f"                               torch.nn.Flatten(), torch.nn.Linear(8, {classes}))\n"
        )
        monkeypatch.syspath_prepend(str(tmp_path))
        return resolve_models([f"{module}:cnn"], input_shape=(3, size, size))[0]

    return make
