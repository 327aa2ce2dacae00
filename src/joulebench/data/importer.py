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

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joulebench.data.reading import (  # noqa: F401 (read_csv_rows: moved, imported from here)
    input_size,
    int_or_none,
    nonempty,
    number,
    read_csv_rows,
    reference_commit,
    scaled,
)
from joulebench.data.timm_reference import (  # noqa: F401 (moved; imported from here)
    TIMM_SOURCE,
    TIMM_TESTSETS,
    parse_benchmark_name,
    read_pretrain_metadata,
    read_timm_benchmarks,
    read_timm_results,
)
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
            name = nonempty(r, path, line, "Model Name")
            model = map_paper_name(name)
            size = input_size(r, path, line, "Input Size")
            key = (model, size)
            if key in seen:
                notes.append(
                    f"{s.file} line {line}: '{name}' at {size} px duplicates line {seen[key][1]} "
                    f"('{seen[key][0]}') as {model}; dropped"
                )
                continue
            seen[key] = (name, line)
            energy_mj = number(r["Energy"], path, line, "Energy")
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
                    "energy_per_image_j": scaled(energy_mj, 1e-3),
                    "throughput_ips": number(r["Throughput"], path, line, "Throughput") if ok else None,
                    "latency_s": scaled(number(r["Latency"], path, line, "Latency"), 1e-3) if ok else None,
                    "batch_size": int_or_none(number(r["Optimal BS"], path, line, "Optimal BS")) if ok else None,
                    "max_batch": int_or_none(number(r["Max BS"], path, line, "Max BS")),
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
        model = map_paper_name(nonempty(r, path, line, "Model Name"))
        size = input_size(r, path, line, "Input Size")
        if (model, size) in seen:
            continue
        seen.add((model, size))
        for col, testset in PAPER_TESTSETS.items():
            top1 = number(r[col], path, line, col)
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
            "commit": reference_commit(paper),
            "files": [s.file for s in PAPER_SETUPS] + ["model_accuracy.csv"],
        },
        TIMM_SOURCE: {
            "what": "timm validation results (top-1/top-5 per test set) and inference benchmarks (throughput only)",
            "license": "Apache-2.0",
            "commit": reference_commit(timm_dir),
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
