"""How records become SQLite rows: JSON columns encoded, numpy scalars and NaN made bindable, times in UTC."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joulebench.errors import StoreError
from joulebench.store import schema
from joulebench.store.records import RunRecord

if TYPE_CHECKING:
    from joulebench.meters.base import WindowResult


def now_utc() -> str:
    """The time now in UTC, ISO 8601 to the second, as the store writes times."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy scalars and arrays
        return obj.tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def to_json(value: Any, what: str) -> str:
    """``value`` as JSON (None as ``{}``); StoreError naming ``what`` if it cannot be encoded."""
    try:
        return json.dumps(value if value is not None else {}, sort_keys=True, default=_json_default)
    except (TypeError, ValueError) as e:
        raise StoreError(f"cannot store {what}: {e}; pass plain numbers, strings, lists and dicts") from None


def scalar(value: Any) -> Any:
    """A value SQLite can bind: numpy scalars become Python numbers, NaN becomes NULL."""
    if value is not None and not isinstance(value, (str, bytes, int, float)) and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _lookup(d: dict[str, Any], dotted: str) -> Any:
    cur: Any = d
    for part in dotted.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, (list, tuple)) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
        if cur is None:
            return None
    return cur


def run_row(run: RunRecord, status: str) -> dict[str, Any]:
    """The ``runs`` row of ``run``: its provenance columns picked out, provenance and config as JSON."""
    row: dict[str, Any] = {
        "run_id": run.run_id,
        "started_at": run.started_at,
        "finished_at": None,
        "status": status,
        "meter": run.meter,
        "command": run.command,
    }
    for col, keys in schema.RUN_PROVENANCE_COLUMNS.items():
        value = next((v for v in (_lookup(run.provenance, k) for k in keys) if v is not None), None)
        if value is not None:
            value = float(value) if col.endswith("_w") else str(value)
        row[col] = value
    row["config_hash"] = run.config_hash
    row["provenance"] = to_json(run.provenance, f"the provenance of run {run.run_id}")
    row["config"] = to_json(run.config, f"the config of run {run.run_id}")
    return {k: scalar(v) for k, v in row.items()}


def record_row(table: str, record: Any) -> dict[str, Any]:
    """The row of a record dataclass in ``table``: JSON columns encoded, values SQLite can bind."""
    row = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name in schema.JSON_COLUMNS[table]:
            value = to_json(value, f"{f.name} of {record.model} (batch {getattr(record, 'batch_size', '-')})")
        row[f.name] = scalar(value)
    return row


def window_row(run_id: str, label: str, result: WindowResult, exit_code: int | None) -> dict[str, Any]:
    """The ``windows`` row of one ``joulebench meter`` window."""
    return {
        "run_id": run_id,
        "label": label,
        "exit_code": exit_code,
        "meter": result.meter,
        "method": result.method,
        "energy_j": result.energy_j,
        "duration_s": result.duration_s,
        "avg_power_w": result.avg_power_w,
        "counter_energy_j": result.counter_energy_j,
        "sampled_energy_j": result.sampled_energy_j,
        "idle_power_w": result.idle_power_w,
        "idle_energy_j": result.idle_energy_j,
        "dynamic_energy_j": result.dynamic_energy_j,
        "aligned": result.aligned,
        "started_at": result.started_at,
        "devices": to_json([asdict(d) for d in result.devices], "the window's devices"),
        "trace_summary": to_json(result.trace_summary(), "the window's trace summary"),
    }
