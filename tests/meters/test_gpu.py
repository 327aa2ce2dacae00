"""The NVML meter on a real GPU (deselected by default; run with `pytest -m gpu tests/test_meters_gpu.py`)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pynvml")

from joulebench.meters import get_meter  # noqa: E402
from joulebench.sweep.protocol import cool_down  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_nvml_reads_a_plausible_temperature_and_a_cool_target_returns_at_once():
    meter = get_meter("nvml", device=0)
    t = meter.read_temperature_c()
    assert t is not None and 10.0 < t < 100.0
    c = cool_down(meter, 99.0)
    assert c.reached and c.waited_s < 1.0 and c.start_c == pytest.approx(t, abs=5.0)
