"""timm's published tables: validation results per test set, inference benchmarks and pretraining metadata."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from joulebench.data.reading import input_size, int_or_none, nonempty, number, read_csv_rows, scaled
from joulebench.errors import ConfigError

TIMM_SOURCE = "timm"

#: timm's results file suffix -> test set.
TIMM_TESTSETS = {
    "imagenet": "imagenet",
    "imagenet-real": "imagenet-real",
    "imagenetv2-matched-frequency": "imagenetv2",
    "sketch": "sketch",
    "imagenet-a": "imagenet-a",
    "imagenet-a-clean": "imagenet-a-clean",
    "imagenet-r": "imagenet-r",
    "imagenet-r-clean": "imagenet-r-clean",
}


def read_timm_results(folder: Path) -> list[dict[str, Any]]:
    """Read timm's ``results-<testset>.csv`` files into long accuracy rows."""
    rows: list[dict[str, Any]] = []
    for suffix, testset in TIMM_TESTSETS.items():
        path = folder / f"results-{suffix}.csv"
        for line, r in read_csv_rows(path, ["model", "img_size", "top1", "top5"]):
            rows.append(
                {
                    "model": nonempty(r, path, line, "model"),
                    "img_size": input_size(r, path, line, "img_size"),
                    "testset": testset,
                    "top1": number(r["top1"], path, line, "top1"),
                    "top5": number(r["top5"], path, line, "top5"),
                    "source": TIMM_SOURCE,
                }
            )
    return rows


def parse_benchmark_name(name: str) -> dict[str, str]:
    """Conditions encoded in a timm benchmark file name, e.g. ``benchmark-infer-amp-nchw-pt291-cu128-4090.csv``.

    Raises:
        ConfigError: If the name does not follow timm's pattern.
    """
    m = re.fullmatch(r"benchmark-infer-(amp|fp32|fp16|bf16)-(nchw|nhwc)-pt(\d+)-cu(\d+)-(\w+?)(-dynamo)?\.csv", name)
    if not m:
        raise ConfigError(
            f"{name}: not a timm benchmark file name "
            "(expected benchmark-infer-<amp>-<layout>-pt<ver>-cu<ver>-<gpu>.csv)"
        )
    prec, layout, pt, cu, gpu, dynamo = m.groups()
    precision = "amp-fp16" if prec == "amp" else prec  # timm's benchmark.py uses float16 autocast for --amp
    runtime = f"{'compile' if dynamo else 'torch'}-{precision}"
    gpu_name = f"RTX{gpu}" if gpu.isdigit() else gpu.upper()
    return {
        "gpu": gpu_name,
        "runtime": runtime,
        "precision": precision,
        "setup": f"{gpu_name}:{runtime}",
        "layout": layout,
        "torch_version": ".".join(pt),
        "cuda_version": f"{cu[:-1]}.{cu[-1]}",
    }


def read_timm_benchmarks(folder: Path) -> list[dict[str, Any]]:
    """Read timm's ``benchmark-infer-*.csv`` files into throughput rows (SI units)."""
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("benchmark-infer-*.csv")):
        cond = parse_benchmark_name(path.name)
        req = [
            "model",
            "infer_img_size",
            "infer_samples_per_sec",
            "infer_step_time",
            "infer_batch_size",
            "param_count",
            "infer_gmacs",
            "infer_macts",
        ]
        for line, r in read_csv_rows(path, req):
            rows.append(
                {
                    "model": nonempty(r, path, line, "model"),
                    "img_size": input_size(r, path, line, "infer_img_size"),
                    "gpu": cond["gpu"],
                    "runtime": cond["runtime"],
                    "precision": cond["precision"],
                    "setup": cond["setup"],
                    "source": TIMM_SOURCE,
                    "throughput_ips": number(r["infer_samples_per_sec"], path, line, "infer_samples_per_sec"),
                    "latency_s": scaled(number(r["infer_step_time"], path, line, "infer_step_time"), 1e-3),
                    "batch_size": int_or_none(number(r["infer_batch_size"], path, line, "infer_batch_size")),
                    "params": scaled(number(r["param_count"], path, line, "param_count"), 1e6),
                    "macs": scaled(number(r["infer_gmacs"], path, line, "infer_gmacs"), 1e9),
                    "activations": scaled(number(r["infer_macts"], path, line, "infer_macts"), 1e6),
                    "layout": cond["layout"],
                    "torch_version": cond["torch_version"],
                    "cuda_version": cond["cuda_version"],
                }
            )
    return rows


def read_pretrain_metadata(folder: Path) -> dict[str, str]:
    """Timm's ``model_metadata-in1k.csv``: architecture (or tag) -> pretraining data."""
    path = folder / "model_metadata-in1k.csv"
    return {
        nonempty(r, path, line, "model"): nonempty(r, path, line, "pretrain")
        for line, r in read_csv_rows(path, ["model", "pretrain"])
    }
