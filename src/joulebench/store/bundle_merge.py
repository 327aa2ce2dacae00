"""Merging imported rows into a store: which are new, which it already holds, which conflict with its rows."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joulebench.store import schema

if TYPE_CHECKING:
    from joulebench.store.bundle import Tables
    from joulebench.store.db import Store

#: Columns identifying a row: two rows with the same key and different values conflict.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "runs": ("run_id",),
    "summaries": ("run_id", "model", "img_size", "runtime"),
    "measurements": ("run_id", "model", "img_size", "runtime", "batch_size", "measured_at"),
    "failures": ("run_id", "model", "img_size", "runtime", "stage", "batch_size", "occurred_at"),
    "windows": ("run_id", "started_at", "label"),
}
#: Time column that orders each table's rows as they were measured (so imported ids keep that order).
TIME_COLUMNS = {
    "runs": "started_at",
    "summaries": "finished_at",
    "measurements": "measured_at",
    "failures": "occurred_at",
    "windows": "started_at",
}
#: Row columns an export fills in from the row's run when the row leaves them empty.
_FROM_RUN = ("gpu_name", "gpu_uuid", "meter", "power_limit_w")
#: Assigned by the importing store, not part of a row's identity.
_LOCAL_IDS = {"windows": ("window_id",)}


@dataclass
class Conflict:
    """A row of the bundle whose key the store holds with other values."""

    table: str
    key: dict[str, Any]
    differs: list[str]

    def describe(self) -> str:
        """One line: table, key and the columns that differ."""
        key = ", ".join(f"{k}={v}" for k, v in self.key.items())
        return f"{self.table} ({key}): {', '.join(self.differs)} differ"


@dataclass
class ImportReport:
    """What :func:`import_bundle` found and did."""

    source: Path
    kind: str
    added: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for ``--json``)."""
        return {
            "source": str(self.source),
            "kind": self.kind,
            "added": self.added,
            "duplicates": self.duplicates,
            "conflicts": [{"table": c.table, "key": c.key, "differs": c.differs} for c in self.conflicts],
            "warnings": self.warnings,
            "written": self.written,
        }


def ordered(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in measured order (stable: rows without a time keep their place, first)."""
    col = TIME_COLUMNS[table]
    return sorted(rows, key=lambda r: (r.get(col) is not None, str(r.get(col) or "")))


def _identity(table: str, row: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]]) -> str:
    """A row's values as comparable text: ids the store assigns left out, run facts filled in as exports do."""
    values = {k: v for k, v in row.items() if k not in _LOCAL_IDS.get(table, ())}
    if table != "runs":
        run = runs.get(row.get("run_id"), {})
        for c in _FROM_RUN:
            if c in values and values[c] is None:
                values[c] = run.get(c)
    return json.dumps(values, sort_keys=True, default=str)


def _key(table: str, row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row.get(c) for c in ROW_KEYS[table])


def plan_import(store: Store, tables: Tables) -> tuple[dict[str, list[dict[str, Any]]], ImportReport]:
    """Sort the rows of ``tables`` into new rows, duplicates of stored rows and conflicts with them.

    Returns:
        (table -> rows to insert, the report with duplicates and conflicts counted).
    """
    report = ImportReport(source=tables.source, kind=tables.kind)
    stored_runs = {r["run_id"]: r for r in store.runs()}
    all_runs = {**{r["run_id"]: r for r in tables.rows["runs"]}, **stored_runs}
    new: dict[str, list[dict[str, Any]]] = {}
    for table in schema.TABLES:
        incoming = tables.rows.get(table, [])
        if not incoming:
            continue
        stored = stored_runs.values() if table == "runs" else store.rows(table)
        by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        have: Counter[str] = Counter()
        for row in stored:
            by_key.setdefault(_key(table, row), []).append(row)
            have[_identity(table, row, all_runs)] += 1
        fresh, dup = [], 0
        for row in incoming:
            ident = _identity(table, row, all_runs)
            if have[ident] > 0:
                have[ident] -= 1
                dup += 1
            elif _key(table, row) in by_key:
                other = by_key[_key(table, row)][0]
                differs = [c for c in row if c not in _LOCAL_IDS.get(table, ()) and row[c] != other.get(c)]
                key = dict(zip(ROW_KEYS[table], _key(table, row), strict=True))
                report.conflicts.append(Conflict(table, key, differs))
            else:
                fresh.append(row)
        new[table] = ordered(table, fresh)
        report.added[table] = len(fresh)
        report.duplicates[table] = dup
    return new, report
