"""Batch curves of own measurements for the explorer's model panel.

joulebench measures every model at a ladder of batch sizes before it keeps the one with the least energy per
image. Those per-batch readings (the store's ``measurements`` table, or the ``measurements.csv`` of a dataset
bundle) show how the result was reached: energy per image, throughput and average power
against batch, each with the 95 % confidence interval of its energy per image (``ci95_rel``).
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

from joulebench.errors import ConfigError

# Columns a per-batch export must have to be read as batch readings (a summaries export has optimal_batch).
BATCH_COLUMNS = ("model", "img_size", "runtime", "gpu_name", "batch_size", "energy_per_image_j", "ci95_rel")
FINAL_PHASE = "full"  # the sweep's final measurement of a batch size (scouting readings are shorter)


def _header(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as f:
            return next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ConfigError(f"{path}: cannot read its header ({e}): fix or remove the file") from None


def _repo_bundles() -> list[Path]:
    """Dataset bundle folders (with a ``manifest.json``) under a source checkout's ``data/``.

    The package ships a dataset's summaries only; its bundle also holds the per-batch readings.
    """
    repo_data = Path(__file__).resolve().parents[3] / "data"
    if not (repo_data.parent / "pyproject.toml").exists():
        return []
    return sorted(p.parent for p in repo_data.rglob("manifest.json"))


def batch_files(dirs: list[Path] | None = None) -> list[Path]:
    """CSV exports of per-batch measurements in the project data folders.

    Args:
        dirs: Folders or files to search; None = the dataset view's folders (the shipped datasets and
            ``$JOULEBENCH_DATA``) and, in a source checkout, the dataset bundles under ``data/``.
    """
    from joulebench.data.dataset import project_data_dirs

    files: list[Path] = []
    for d in map(Path, project_data_dirs(dirs) + (_repo_bundles() if dirs is None else [])):
        if d.is_file():
            files.append(d)
        elif d.is_dir():
            files += sorted(d.rglob("*.csv")) + sorted(d.rglob("*.csv.gz"))
    out = []
    for f in dict.fromkeys(files):
        head = set(_header(f))
        if head.issuperset(BATCH_COLUMNS) and "optimal_batch" not in head:
            out.append(f)
    return out


def load_batches(db: str | Path | None = None, data: list[Path] | None = None) -> Any:
    """Per-batch readings of own measurements from the project data folders and the results store.

    Args:
        db: Results store whose ``measurements`` table to read (None: none).
        data: Folders to search for per-batch CSV exports (None: as :func:`batch_files`).

    Returns:
        A DataFrame of ``BatchMeasurement`` columns (possibly empty), or None when there is none.
    """
    import pandas as pd

    parts = [pd.read_csv(f) for f in batch_files(data)]
    if db is not None and Path(db).exists():
        from joulebench.store import Store

        with Store.open_readonly(db) as store:
            parts.append(store.measurements_frame())
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else None


def _phase(trace: Any) -> str | None:
    if isinstance(trace, dict):
        return trace.get("phase")
    if isinstance(trace, str) and trace.startswith("{"):
        try:
            return json.loads(trace).get("phase")
        except ValueError:
            return None
    return None


def batch_curves(batches: Any, setup_of: dict[tuple[str, str, bool], str], index: dict[tuple[str, int], int]) -> dict:
    """Batch curves per setup id and model index, for the payload.

    One reading per batch size: the final (``full``) measurement where there is one, else the latest. Failed
    batches (out of memory, a crash) are left out: they have no energy.

    Args:
        batches: Output of :func:`load_batches` (or None).
        setup_of: (short GPU name, runtime, simulated) -> the payload's setup id for own measurements.
        index: (model, img_size) -> model index in the payload.

    Returns:
        setup id -> model index -> ``{"bs", "e", "tp", "pw", "ci"}`` lists sorted by batch size.
    """
    from joulebench.data.dataset import gpu_short_name

    out: dict[str, dict[int, dict[str, list]]] = {}
    if batches is None or not len(batches):
        return out
    rows = batches[batches["status"].fillna("ok").eq("ok")] if "status" in batches.columns else batches
    chosen: dict[tuple[str, int, int], tuple[tuple[bool, str], dict[str, Any]]] = {}
    for r in rows.to_dict("records"):
        sim = str(r.get("meter") or "").lower() == "sim"
        sid = setup_of.get((gpu_short_name(r.get("gpu_name")), str(r.get("runtime")), sim))
        try:
            i = index.get((str(r["model"]), int(r["img_size"])))
            bs = int(r["batch_size"])
            e = float(r["energy_per_image_j"])
        except (TypeError, ValueError):
            continue
        if sid is None or i is None or not e > 0:
            continue
        rank = (_phase(r.get("trace_summary")) == FINAL_PHASE, str(r.get("measured_at") or ""))
        key = (sid, i, bs)
        if key not in chosen or rank >= chosen[key][0]:
            chosen[key] = (rank, r)
    for (sid, i, bs), (_, r) in sorted(chosen.items()):
        c = out.setdefault(sid, {}).setdefault(i, {"bs": [], "e": [], "tp": [], "pw": [], "ci": []})
        c["bs"].append(bs)
        c["e"].append(r.get("energy_per_image_j"))
        c["tp"].append(r.get("throughput_ips"))
        c["pw"].append(r.get("avg_power_w"))
        c["ci"].append(r.get("ci95_rel"))
    return out
