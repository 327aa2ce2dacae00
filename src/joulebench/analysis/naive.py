"""The naive energy estimate, ``FLOPs / peak FLOP/s x power limit``, with its convention made explicit.

Two choices decide what the naive estimate means, and prior work made them differently:

* ``flops_per_mac``: a multiply-accumulate is 2 floating-point operations (the hardware convention of peak
  FLOP/s figures) or 1 (MACs counted as FLOPs, as "The Hidden Joules" did).
* ``peak``: which datasheet rate to divide by. ``"tensor-core"`` takes the precision's dense tensor-core rate
  (fp16/bf16/tf32; fp32 has none, so its plain FP32 rate); ``"non-tensor"`` takes the rate without tensor
  cores (A100: 19.5 TFLOP/s FP32, 78 FP16).

The paper's figures (measured energy about 3.1x the naive estimate on both A100 setups) come from
``flops_per_mac=1, peak="non-tensor"`` (:data:`PAPER`). With ``flops_per_mac=2`` and tensor-core peaks
(:data:`DATASHEET`) the factor is about 1.5x for PyTorch FP32 and 6x for TensorRT FP16. Either way the naive
estimate is not a bound: it assumes the GPU runs at the chosen peak while drawing its power limit, yet PyTorch
runs cuDNN convolutions in TF32 by default, faster than the FP32 peak, so for many FP32 CNNs the estimate is
above the measurement (``overestimated`` in :func:`naive_errors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import ENERGY, need
from joulebench.analysis.metrics import mape
from joulebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Dense peak FLOP/s with tensor cores by GPU and math precision, from NVIDIA's datasheets. Figures that the
#: datasheets give "with sparsity" are halved to their dense value. fp32 is the plain FP32 rate.
PEAK_FLOPS: dict[str, dict[str, float]] = {
    # NVIDIA A100 Tensor Core GPU datasheet (A100 40GB PCIe column): FP32 19.5, TF32 156, FP16/BF16 312 TFLOPS.
    "A100": {"fp32": 19.5e12, "tf32": 156e12, "fp16": 312e12, "bf16": 312e12},
    # NVIDIA H100 Tensor Core GPU datasheet (H100 PCIe column): FP32 51, TF32 756*, FP16/BF16 1,513* TFLOPS.
    "H100": {"fp32": 51e12, "tf32": 378e12, "fp16": 756.5e12, "bf16": 756.5e12},
    # NVIDIA H100 Tensor Core GPU datasheet (H100 SXM column): FP32 67, TF32 989*, FP16/BF16 1,979* TFLOPS.
    "H100-SXM": {"fp32": 67e12, "tf32": 494.5e12, "fp16": 989.5e12, "bf16": 989.5e12},
    # NVIDIA H200 Tensor Core GPU datasheet (H200 SXM column): FP32 67, TF32 989*, FP16/BF16 1,979* TFLOPS.
    "H200": {"fp32": 67e12, "tf32": 494.5e12, "fp16": 989.5e12, "bf16": 989.5e12},
}
#: Peak FLOP/s without tensor cores. A100: 78 TFLOP/s FP16, 39 BF16 (A100 architecture whitepaper, 4x and 2x
#: FP32); Hopper runs non-tensor FP16/BF16 at twice its FP32 rate (H100 architecture whitepaper). tf32 exists
#: only on tensor cores, so its non-tensor rate is the FP32 one.
NON_TENSOR_PEAK_FLOPS: dict[str, dict[str, float]] = {
    "A100": {"fp32": 19.5e12, "tf32": 19.5e12, "fp16": 78e12, "bf16": 39e12},
    "H100": {"fp32": 51e12, "tf32": 51e12, "fp16": 102e12, "bf16": 102e12},
    "H100-SXM": {"fp32": 67e12, "tf32": 67e12, "fp16": 134e12, "bf16": 134e12},
    "H200": {"fp32": 67e12, "tf32": 67e12, "fp16": 134e12, "bf16": 134e12},
}
PEAK_TABLES = {"tensor-core": PEAK_FLOPS, "non-tensor": NON_TENSOR_PEAK_FLOPS}
PEAK_FLOPS_SOURCE = {
    "A100": "NVIDIA A100 Tensor Core GPU datasheet, A100 40GB PCIe column",
    "H100": "NVIDIA H100 Tensor Core GPU datasheet, H100 PCIe column (with-sparsity figures halved)",
    "H100-SXM": "NVIDIA H100 Tensor Core GPU datasheet, H100 SXM column (with-sparsity figures halved)",
    "H200": "NVIDIA H200 Tensor Core GPU datasheet, H200 SXM column (with-sparsity figures halved)",
}


@dataclass(frozen=True)
class NaiveConvention:
    """How the naive estimate turns MACs into seconds at peak: FLOPs per MAC and which peak rate.

    Attributes:
        flops_per_mac: 2 (a MAC is a multiply and an add, as peak FLOP/s count them) or 1 (MACs as FLOPs).
        peak: ``"tensor-core"`` or ``"non-tensor"`` (see :data:`PEAK_TABLES`).
    """

    flops_per_mac: float = 2.0
    peak: str = "tensor-core"

    def __post_init__(self) -> None:
        if self.peak not in PEAK_TABLES:
            raise ConfigError(f"peak kind '{self.peak}' is unknown; choose one of {', '.join(PEAK_TABLES)}")
        if not self.flops_per_mac > 0:
            raise ConfigError(f"FLOPs per MAC must be positive, got {self.flops_per_mac}")

    def describe(self) -> str:
        """One line: ``"1 FLOP per MAC, non-tensor peak"``."""
        n = f"{self.flops_per_mac:g}"
        return f"{n} FLOP{'' if n == '1' else 's'} per MAC, {self.peak} peak"


#: 2 FLOPs per MAC against the precision's tensor-core peak (joulebench's default).
DATASHEET = NaiveConvention(2.0, "tensor-core")
#: "The Hidden Joules"' convention: MACs counted as FLOPs against the non-tensor-core peak.
PAPER = NaiveConvention(1.0, "non-tensor")
CONVENTIONS = {"datasheet": DATASHEET, "paper": PAPER}


def _gpu_key(gpu: str) -> str:
    """The longest :data:`PEAK_FLOPS` name that ``gpu`` starts with (``H100-SXM`` before ``H100``)."""
    key = max((g for g in PEAK_FLOPS if str(gpu).upper().startswith(g)), key=len, default=None)
    if key is None:
        raise ConfigError(f"no peak FLOP/s known for GPU '{gpu}'; known: {', '.join(PEAK_FLOPS)}")
    return key


def peak_flops_source(gpu: str) -> str:
    """The datasheet that :data:`PEAK_FLOPS` takes ``gpu``'s figures from."""
    return PEAK_FLOPS_SOURCE[_gpu_key(gpu)]


def peak_flops(gpu: str, precision: str, kind: str = "tensor-core") -> float:
    """Dense peak FLOP/s of ``gpu`` (A100, H100, H100-SXM, H200; longest prefix match) at ``precision``.

    Args:
        gpu: GPU name; the first known prefix wins.
        precision: fp32, tf32, fp16 or bf16.
        kind: ``"tensor-core"`` or ``"non-tensor"``.

    Raises:
        ConfigError: Unknown GPU, precision or kind (the message lists the table).
    """
    if kind not in PEAK_TABLES:
        raise ConfigError(f"peak kind '{kind}' is unknown; choose one of {', '.join(PEAK_TABLES)}")
    key = _gpu_key(gpu)
    table = PEAK_TABLES[kind][key]
    if precision not in table:
        raise ConfigError(f"no peak FLOP/s known for precision '{precision}' on {key}; known: {', '.join(table)}")
    return table[precision]


def naive_energy(macs, gpu: str, precision: str, power_limit_w, convention: NaiveConvention = DATASHEET) -> np.ndarray:
    """Prior work's estimate: ``flops_per_mac * MACs / peak FLOP/s * power limit`` (J per image).

    It assumes the GPU runs at the convention's peak while drawing its power limit. Real inference mostly runs
    below that peak (the estimate is low), but not always: FP32 convolutions that PyTorch runs in TF32 beat
    the FP32 peak, and then the estimate is high.
    """
    macs = np.asarray(macs, dtype=float)
    peak = peak_flops(gpu, precision, convention.peak)
    out = convention.flops_per_mac * macs / peak * np.asarray(power_limit_w, dtype=float)
    return np.maximum(out, 0.0)


def factor_summary(factor) -> dict[str, float]:
    """Distribution of measured/naive: geometric mean, quantiles and the share below 1 (overestimated)."""
    f = np.asarray(factor, dtype=float)
    q = np.quantile(f, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "n": int(len(f)),
        "geomean": float(np.exp(np.mean(np.log(f)))),
        "p05": float(q[0]),
        "p25": float(q[1]),
        "median": float(q[2]),
        "p75": float(q[3]),
        "p95": float(q[4]),
        "overestimated": float(np.mean(f < 1.0)),
    }


def naive_errors(df: pd.DataFrame, convention: NaiveConvention = DATASHEET) -> tuple[pd.DataFrame, dict[str, float]]:
    """Factor measured / naive per model and its distribution.

    Args:
        df: Rows of one or more setups with ``gpu, precision, power_limit_w, macs`` and measured energy.
        convention: FLOPs per MAC and peak kind (:data:`DATASHEET` by default, :data:`PAPER` for the paper's).

    Returns:
        The rows with ``naive_energy_j`` and ``underestimation`` (measured / naive; below 1 the naive estimate
        is too high) added, and a summary: geometric mean and quantiles of the factor, ``overestimated`` (share
        of models with factor < 1), the MAPE and the convention.
    """
    d = df.dropna(subset=["macs", "power_limit_w", ENERGY]).copy()
    d = d[d["macs"] > 0]
    need(len(d), 1, "the naive estimator")
    d["naive_energy_j"] = np.nan
    for (gpu, prec), idx in d.groupby(["gpu", "precision"]).groups.items():
        est = naive_energy(d.loc[idx, "macs"], gpu, prec, d.loc[idx, "power_limit_w"], convention)
        d.loc[idx, "naive_energy_j"] = est
    d["underestimation"] = d[ENERGY] / d["naive_energy_j"]
    summary = {
        **factor_summary(d["underestimation"]),
        "mape": mape(d["naive_energy_j"], d[ENERGY]),
        "flops_per_mac": convention.flops_per_mac,
        "peak": convention.peak,
    }
    return d, summary


def naive_factor_by(rows: pd.DataFrame, by: str = "type") -> pd.DataFrame:
    """:func:`factor_summary` of the ``underestimation`` column of :func:`naive_errors` rows per ``by`` group."""
    import pandas as pd

    d = rows.assign(**{by: rows[by].fillna("unknown") if by in rows.columns else "unknown"})
    out = [{by: k, **factor_summary(g["underestimation"])} for k, g in d.groupby(by)]
    return pd.DataFrame(out)
