"""Import the published reference data into joulebench's own normalised tables.

Inputs (``DIR``, by default ``../shared/reference``):

* ``paper-2025/{A100,H100}_{PT,TRT}.csv`` — "The Hidden Joules" (ICML 2025) energy per image (mJ),
  throughput (images/s) and latency (ms per batch) at the most energy-efficient batch;
* ``paper-2025/model_accuracy.csv`` — the paper's top-1 on eight test sets;
* ``timm/results-*.csv`` — timm's top-1/top-5 per test set and input size;
* ``timm/benchmark-infer-*.csv`` — timm's inference throughput (no energy) on RTX 4090/5090.

Outputs (SI units; one row per model configuration and condition; conditions are columns):

* ``reference_energy.csv.gz`` — the energy view contract of ``docs/ARCHITECTURE.md`` plus ``status`` and
  ``meter``; failed paper runs (empty energy) are kept with ``status = failed`` and empty figures.
* ``reference_accuracy.csv.gz`` — ``model, img_size, testset, top1, top5, source``.
* ``reference_throughput.csv.gz`` — timm's throughput table (``setup`` like ``RTX4090:torch-amp-fp16``).
* ``reference_sources.json`` — what each source is, its upstream commit and licence, unmatched names.

Every reader checks the columns it needs and the type of every value, and reports problems as
:class:`~joulebench.errors.ConfigError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joulebench.errors import ConfigError

PACKAGE_DATA = Path(__file__).resolve().parent

ENERGY_COLUMNS = (
    "model",
    "img_size",
    "gpu",
    "runtime",
    "precision",
    "setup",
    "source",
    "energy_per_image_j",
    "throughput_ips",
    "latency_s",
    "batch_size",
    "max_batch",
    "power_limit_w",
    "status",
    "meter",
)
ACCURACY_COLUMNS = ("model", "img_size", "testset", "top1", "top5", "source")
THROUGHPUT_COLUMNS = (
    "model",
    "img_size",
    "gpu",
    "runtime",
    "precision",
    "setup",
    "source",
    "throughput_ips",
    "latency_s",
    "batch_size",
    "params",
    "macs",
    "activations",
    "layout",
    "torch_version",
    "cuda_version",
)

#: Test sets, in display order.
TESTSETS = (
    "imagenet",
    "imagenet-real",
    "imagenetv2",
    "sketch",
    "imagenet-a",
    "imagenet-a-clean",
    "imagenet-r",
    "imagenet-r-clean",
)

PAPER_SOURCE = "hidden-joules-2025"
TIMM_SOURCE = "timm"


@dataclass(frozen=True)
class PaperSetup:
    """One of the paper's measurement files."""

    file: str
    gpu: str
    runtime: str
    precision: str
    power_limit_w: float


#: The paper's four setups; power limits as the paper states them (reference README).
PAPER_SETUPS = (
    PaperSetup("A100_PT.csv", "A100", "torch-fp32", "fp32", 250.0),
    PaperSetup("A100_TRT.csv", "A100", "tensorrt-fp16", "fp16", 250.0),
    PaperSetup("H100_PT.csv", "H100", "torch-fp32", "fp32", 310.0),
    PaperSetup("H100_TRT.csv", "H100", "tensorrt-fp16", "fp16", 310.0),
)

#: The paper's test-set column names -> joulebench's.
PAPER_TESTSETS = {
    "imagenet-original": "imagenet",
    "imagenet-real": "imagenet-real",
    "imagenetv2-matched-frequency": "imagenetv2",
    "sketch": "sketch",
    "imagenet-a": "imagenet-a",
    "imagenet-a-clean": "imagenet-a-clean",
    "imagenet-r": "imagenet-r",
    "imagenet-r-clean": "imagenet-r-clean",
}

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

#: Paper names that are not current timm pretrained tags -> the tag, with the evidence.
PAPER_ALIASES: dict[str, tuple[str, str]] = {
    "tnt_s_patch16_224": (
        "tnt_s_legacy_patch16_224.in1k",
        "timm renamed the original TNT-S weights to tnt_s_legacy_patch16_224; the paper's 23.76M params "
        "(model_stats.csv) match the legacy model (timm results: 23.76M) and not the new one (23.77M)",
    ),
    "mobilenet_edgetpu_v2_m": (
        "mobilenet_edgetpu_v2_m.ra4_e3600_r224_in1k",
        "the architecture's only pretrained tag; the paper also measured it under the full tag, and those "
        "rows are kept (the untagged duplicates are dropped)",
    ),
}

_GPU_RX = re.compile(r"-(\d{4})(?:-|\.|$)")


# --------------------------------------------------------------------------------------------- reading


def _number(value: str, path: Path, line: int, column: str, kind: Callable[[str], float] = float) -> float | None:
    s = value.strip().replace(",", "") if value is not None else ""
    if s == "" or s.lower() in ("nan", "none", "null"):
        return None
    try:
        x = kind(s) if kind is not int else int(float(s))
    except ValueError:
        raise ConfigError(f"{path}, line {line}, column '{column}': cannot read '{value}' as a number") from None
    if isinstance(x, float) and math.isinf(x):
        raise ConfigError(f"{path}, line {line}, column '{column}': infinite value '{value}'")
    return x


def read_csv_rows(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Read a CSV file as ``(line number, row dict)``; checks the header and the field count of every line.

    Raises:
        ConfigError: If the file is missing, a required column is absent, or a line has the wrong number
            of fields (the message names the file, the line and the column).
    """
    if not path.exists():
        raise ConfigError(f"{path}: file not found; the reference folder must contain it")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise ConfigError(f"{path}, line 1: empty file, expected a header with {', '.join(required)}") from None
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise ConfigError(
                f"{path}, line 1: missing column(s) {', '.join(repr(c) for c in missing)}; found {', '.join(header)}"
            )
        rows = []
        for fields in reader:
            line = reader.line_num
            if not fields or all(not x.strip() for x in fields):
                continue
            if len(fields) != len(header):
                col = header[len(fields)] if len(fields) < len(header) else f"#{len(fields)} (beyond the header)"
                raise ConfigError(
                    f"{path}, line {line}, column '{col}': expected {len(header)} fields, found {len(fields)}"
                )
            rows.append((line, dict(zip(header, fields, strict=True))))
    return rows


def _text(row: dict[str, str], path: Path, line: int, column: str) -> str:
    v = (row.get(column) or "").strip()
    if not v:
        raise ConfigError(f"{path}, line {line}, column '{column}': empty value")
    return v


def _size(row: dict[str, str], path: Path, line: int, column: str) -> int:
    v = _number(row[column], path, line, column, int)
    if v is None or v <= 0:
        raise ConfigError(
            f"{path}, line {line}, column '{column}': expected a positive input size, got '{row[column]}'"
        )
    return int(v)


def _scaled(v: float | None, factor: float) -> float | None:
    return None if v is None else v * factor


def _int_or_none(v: float | None) -> int | None:
    return None if v is None else int(round(v))


# ------------------------------------------------------------------------------------------------ paper


def map_paper_name(name: str) -> str:
    """The timm pretrained tag for a name in the paper's ``Model Name`` column."""
    return PAPER_ALIASES.get(name, (name, ""))[0]


def read_paper_energy(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Read the paper's four setup files into energy rows (SI units).

    Returns:
        ``(rows, notes)``: notes say which rows were dropped or renamed.
    """
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for s in PAPER_SETUPS:
        path = folder / s.file
        seen: dict[tuple[str, int], tuple[str, int]] = {}
        table = read_csv_rows(
            path, ["Model Name", "Input Size", "Throughput", "Latency", "Energy", "Max BS", "Optimal BS"]
        )
        # tagged rows first so that an untagged duplicate of the same configuration is the one dropped
        table.sort(key=lambda lr: "." not in lr[1]["Model Name"])
        for line, r in table:
            name = _text(r, path, line, "Model Name")
            model = map_paper_name(name)
            size = _size(r, path, line, "Input Size")
            key = (model, size)
            if key in seen:
                notes.append(
                    f"{s.file} line {line}: '{name}' at {size} px duplicates line {seen[key][1]} "
                    f"('{seen[key][0]}') as {model}; dropped"
                )
                continue
            seen[key] = (name, line)
            energy_mj = _number(r["Energy"], path, line, "Energy")
            if energy_mj is not None and energy_mj <= 0:
                raise ConfigError(f"{path}, line {line}, column 'Energy': energy must be positive, got {energy_mj}")
            ok = energy_mj is not None
            rows.append(
                {
                    "model": model,
                    "img_size": size,
                    "gpu": s.gpu,
                    "runtime": s.runtime,
                    "precision": s.precision,
                    "setup": f"{s.gpu}:{s.runtime}",
                    "source": PAPER_SOURCE,
                    "energy_per_image_j": _scaled(energy_mj, 1e-3),
                    "throughput_ips": _number(r["Throughput"], path, line, "Throughput") if ok else None,
                    "latency_s": _scaled(_number(r["Latency"], path, line, "Latency"), 1e-3) if ok else None,
                    "batch_size": _int_or_none(_number(r["Optimal BS"], path, line, "Optimal BS")) if ok else None,
                    "max_batch": _int_or_none(_number(r["Max BS"], path, line, "Max BS")),
                    "power_limit_w": s.power_limit_w,
                    "status": "ok" if ok else "failed",
                    "meter": None,
                }
            )
    return rows, notes


def read_paper_accuracy(folder: Path) -> list[dict[str, Any]]:
    """Read the paper's ``model_accuracy.csv`` into long accuracy rows (top-1 in %, top-5 not published)."""
    path = folder / "model_accuracy.csv"
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    table = read_csv_rows(path, ["Model Name", "Input Size", *PAPER_TESTSETS])
    table.sort(key=lambda lr: "." not in lr[1]["Model Name"])
    for line, r in table:
        model = map_paper_name(_text(r, path, line, "Model Name"))
        size = _size(r, path, line, "Input Size")
        if (model, size) in seen:
            continue
        seen.add((model, size))
        for col, testset in PAPER_TESTSETS.items():
            top1 = _number(r[col], path, line, col)
            if top1 is not None and not 0 <= top1 <= 100:
                raise ConfigError(f"{path}, line {line}, column '{col}': accuracy {top1} is not a percentage")
            if top1 is not None:
                rows.append(
                    {
                        "model": model,
                        "img_size": size,
                        "testset": testset,
                        "top1": top1,
                        "top5": None,
                        "source": PAPER_SOURCE,
                    }
                )
    return rows


# ------------------------------------------------------------------------------------------------- timm


def read_timm_results(folder: Path) -> list[dict[str, Any]]:
    """Read timm's ``results-<testset>.csv`` files into long accuracy rows."""
    rows: list[dict[str, Any]] = []
    for suffix, testset in TIMM_TESTSETS.items():
        path = folder / f"results-{suffix}.csv"
        for line, r in read_csv_rows(path, ["model", "img_size", "top1", "top5"]):
            rows.append(
                {
                    "model": _text(r, path, line, "model"),
                    "img_size": _size(r, path, line, "img_size"),
                    "testset": testset,
                    "top1": _number(r["top1"], path, line, "top1"),
                    "top5": _number(r["top5"], path, line, "top5"),
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
                    "model": _text(r, path, line, "model"),
                    "img_size": _size(r, path, line, "infer_img_size"),
                    "gpu": cond["gpu"],
                    "runtime": cond["runtime"],
                    "precision": cond["precision"],
                    "setup": cond["setup"],
                    "source": TIMM_SOURCE,
                    "throughput_ips": _number(r["infer_samples_per_sec"], path, line, "infer_samples_per_sec"),
                    "latency_s": _scaled(_number(r["infer_step_time"], path, line, "infer_step_time"), 1e-3),
                    "batch_size": _int_or_none(_number(r["infer_batch_size"], path, line, "infer_batch_size")),
                    "params": _scaled(_number(r["param_count"], path, line, "param_count"), 1e6),
                    "macs": _scaled(_number(r["infer_gmacs"], path, line, "infer_gmacs"), 1e9),
                    "activations": _scaled(_number(r["infer_macts"], path, line, "infer_macts"), 1e6),
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
        _text(r, path, line, "model"): _text(r, path, line, "pretrain")
        for line, r in read_csv_rows(path, ["model", "pretrain"])
    }


def _commit(folder: Path) -> str | None:
    p = folder / "COMMIT"
    if not p.exists():
        return None
    text = p.read_text(encoding="utf-8").split()
    return text[-1] if text else None


# ------------------------------------------------------------------------------------------------ import


def import_reference(src: Path, out: Path | None = None, known_models: set[str] | None = None) -> dict[str, Any]:
    """Read the reference folder and write joulebench's normalised dataset.

    Args:
        src: The reference folder (with ``paper-2025/`` and ``timm/``).
        out: Output folder (default: the package's data folder); None-like writes nothing when ``out`` is False.
        known_models: Pretrained tags (the catalogue's); paper names outside it are reported as unmatched.

    Returns:
        ``{"energy": DataFrame, "accuracy": DataFrame, "throughput": DataFrame, "sources": dict, "files": [...]}``.

    Raises:
        ConfigError: If the folder or a file is missing, or a file is malformed (file, line and column named).
    """
    import pandas as pd

    src = Path(src)
    paper, timm_dir = src / "paper-2025", src / "timm"
    for d in (paper, timm_dir):
        if not d.is_dir():
            raise ConfigError(
                f"{d} not found: point `joulebench data import DIR` at the reference folder "
                "(with paper-2025/ and timm/)"
            )

    energy_rows, notes = read_paper_energy(paper)
    acc_rows = read_paper_accuracy(paper) + read_timm_results(timm_dir)
    thr_rows = read_timm_benchmarks(timm_dir)

    energy = pd.DataFrame(energy_rows, columns=list(ENERGY_COLUMNS))
    energy = energy.sort_values(["model", "img_size", "setup"], kind="stable").reset_index(drop=True)
    for c in ("batch_size", "max_batch"):
        energy[c] = energy[c].astype("Int64")
    accuracy = pd.DataFrame(acc_rows, columns=list(ACCURACY_COLUMNS))
    accuracy = accuracy.drop_duplicates(["model", "img_size", "testset", "source"], keep="first")
    accuracy = accuracy.sort_values(["model", "img_size", "testset", "source"], kind="stable").reset_index(drop=True)
    throughput = pd.DataFrame(thr_rows, columns=list(THROUGHPUT_COLUMNS))
    throughput = throughput.sort_values(["model", "img_size", "setup"], kind="stable").reset_index(drop=True)
    throughput["batch_size"] = throughput["batch_size"].astype("Int64")

    unmatched: list[str] = []
    if known_models is not None:
        unmatched = sorted(set(energy["model"]) - known_models)
    sources = {
        PAPER_SOURCE: {
            "what": "The Hidden Joules (ICML 2025): energy per image on A100 PCIe 40GB (250 W) and H100 PCIe 80GB "
            "(310 W), PyTorch FP32 and TensorRT FP16; accuracy on 8 test sets",
            "license": "MIT",
            "commit": _commit(paper),
            "files": [s.file for s in PAPER_SETUPS] + ["model_accuracy.csv"],
        },
        TIMM_SOURCE: {
            "what": "timm validation results (top-1/top-5 per test set) and inference benchmarks (throughput only)",
            "license": "Apache-2.0",
            "commit": _commit(timm_dir),
            "files": sorted(p.name for p in timm_dir.glob("results-*.csv"))
            + sorted(p.name for p in timm_dir.glob("benchmark-infer-*.csv")),
        },
        "renamed": {k: {"to": v[0], "why": v[1]} for k, v in sorted(PAPER_ALIASES.items())},
        "dropped": notes,
        "unmatched": unmatched,
    }
    result: dict[str, Any] = {"energy": energy, "accuracy": accuracy, "throughput": throughput, "sources": sources}
    files: list[Path] = []
    if out is not False:
        dest = Path(out) if out is not None else PACKAGE_DATA
        dest.mkdir(parents=True, exist_ok=True)
        for name, df in (("energy", energy), ("accuracy", accuracy), ("throughput", throughput)):
            p = dest / f"reference_{name}.csv.gz"
            write_table(df, p)
            files.append(p)
        p = dest / "reference_sources.json"
        p.write_text(json.dumps(sources, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        files.append(p)
    result["files"] = files
    return result


def write_table(df: Any, path: Path) -> None:
    """Write a table as gzip CSV, byte-reproducible (no timestamp in the gzip header)."""
    df.to_csv(path, index=False, compression={"method": "gzip", "mtime": 0, "compresslevel": 9})


def read_table(path: Path) -> Any:
    """Read a table written by :func:`write_table` (integer columns with gaps stay integers)."""
    import pandas as pd

    df = pd.read_csv(path)
    for c in ("batch_size", "max_batch", "img_size"):
        if c in df.columns:
            df[c] = df[c].astype("Int64") if df[c].isna().any() or c != "img_size" else df[c].astype("int64")
    return df
