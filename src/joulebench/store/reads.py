"""Reading a store's tables: rows as dicts or DataFrames, filtered with :data:`FILTERS`.

:class:`TableReads` is a mixin of :class:`~joulebench.store.db.Store` (``store.summaries(model="resnet*")``);
files written by an older joulebench read with NULL for the columns added since.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joulebench.errors import ConfigError, StoreError
from joulebench.store import schema

if TYPE_CHECKING:
    import pandas as pd

_DB_HINT = "use --db (or $JOULEBENCH_DB) to pick another file"

#: Filters every query method accepts, and what they match.
FILTERS = {
    "model": "glob pattern on the model (`resnet*`; a name without wildcards also matches its tags)",
    "img_size": "input resolution (pixels)",
    "runtime": "runtime name (`torch-fp32`)",
    "gpu": "substring of the GPU name, case-insensitive (`H100`)",
    "meter": "meter name (`nvml`, `sim`)",
    "status": "row status (`ok`, `oom`, `error`, `failed`, `running`)",
    "run_id": "run id",
}

_ORDER = {
    "summaries": "t.model, t.img_size, t.runtime, t.gpu_name, t.finished_at, t.id",
    "measurements": "t.model, t.img_size, t.runtime, t.run_id, t.batch_size, t.id",
    "failures": "t.model, t.img_size, t.runtime, t.id",
    "runs": "t.started_at, t.run_id",
    "windows": "t.window_id",
}


class TableReads:
    """Filtered reads of a store's tables over its connection (``_require()`` and ``path`` come from Store)."""

    path: Path

    if TYPE_CHECKING:

        def _require(self) -> sqlite3.Connection: ...  # the open connection, from Store

    def rows(self, table: str, *, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Rows of ``table`` as dicts (SI units; JSON columns decoded), filtered with :data:`FILTERS`.

        Raises:
            ConfigError: Unknown table or filter, or a filter that does not apply to the table.
        """
        cols = self.columns(table)
        where, params = self._where(table, filters)
        present = self._present(table)  # an older file read as it is lacks the columns added since: NULL
        sql = f"SELECT {', '.join(f't.{c}' if c in present else f'NULL AS {c}' for c in cols)} FROM {table} t"
        if table != "runs":
            sql += " LEFT JOIN runs r ON r.run_id = t.run_id"
        sql += f"{where} ORDER BY {_ORDER[table]}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        try:
            cur = self._require().execute(sql, params)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot read {table} from {self.path} ({e}); {_DB_HINT}") from None
        json_cols = schema.JSON_COLUMNS[table]
        bool_cols = schema.BOOL_COLUMNS[table]
        out = []
        for values in cur:
            row = dict(zip(cols, values, strict=True))
            for c in json_cols:
                row[c] = json.loads(row[c]) if row[c] is not None else None
            for c in bool_cols:
                row[c] = None if row[c] is None else bool(row[c])
            out.append(row)
        return out

    def _present(self, table: str) -> set[str]:
        """Columns the file's ``table`` actually has."""
        return {r[1] for r in self._require().execute(f"PRAGMA table_info({table})")}

    def count(self, table: str, **filters: Any) -> int:
        """Number of rows of ``table`` matching ``filters``."""
        self.columns(table)
        where, params = self._where(table, filters)
        join = "" if table == "runs" else " LEFT JOIN runs r ON r.run_id = t.run_id"
        return int(self._require().execute(f"SELECT COUNT(*) FROM {table} t{join}{where}", params).fetchone()[0])

    @staticmethod
    def columns(table: str) -> list[str]:
        """Columns of ``table`` in order, as returned by :meth:`rows`.

        Raises:
            ConfigError: If there is no such table.
        """
        if table not in schema.TABLE_COLUMNS:
            raise ConfigError(f"unknown table '{table}': use one of {', '.join(schema.TABLES)}")
        return [name for name, _ in schema.TABLE_COLUMNS[table]]

    def _where(self, table: str, filters: dict[str, Any]) -> tuple[str, list[Any]]:
        own = set(self.columns(table))
        exprs = {
            "run_id": "t.run_id",
            "model": "t.model" if "model" in own else None,
            "img_size": "t.img_size" if "img_size" in own else None,
            "runtime": "t.runtime" if "runtime" in own else None,
            "status": "t.status" if "status" in own else None,
            # rows without their own GPU or meter (failures, windows, or left empty) use their run's
            "gpu": self._own_or_run("gpu_name", table, own),
            "meter": self._own_or_run("meter", table, own),
        }
        clauses: list[str] = []
        params: list[Any] = []
        for name, value in filters.items():
            if name not in FILTERS:
                raise ConfigError(f"unknown filter '{name}': use one of {', '.join(FILTERS)}")
            if value is None:
                continue
            expr = exprs[name]
            if expr is None:
                usable = [k for k, v in exprs.items() if v is not None]
                raise ConfigError(f"filter '{name}' does not apply to {table}: use one of {', '.join(usable)}")
            if name == "model":
                pattern = str(value)
                if any(ch in pattern for ch in "*?["):
                    clauses.append(f"lower({expr}) GLOB lower(?)")
                    params.append(pattern)
                else:  # a bare architecture also matches its pretrained tags: resnet50 -> resnet50.a1_in1k
                    clauses.append(f"(lower({expr}) = lower(?) OR lower({expr}) GLOB lower(?))")
                    params += [pattern, pattern + ".*"]
            elif name == "gpu":
                escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                clauses.append(f"{expr} LIKE ? ESCAPE '\\'")
                params.append(f"%{escaped}%")
            else:
                clauses.append(f"{expr} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    @staticmethod
    def _own_or_run(col: str, table: str, own: set[str]) -> str:
        if table == "runs":
            return f"t.{col}"
        return f"COALESCE(t.{col}, r.{col})" if col in own else f"r.{col}"

    def summaries(self, **filters: Any) -> list[dict[str, Any]]:
        """Model summaries (one per model configuration, runtime and run) as dicts; see :data:`FILTERS`."""
        return self.rows("summaries", **filters)

    def measurements(self, **filters: Any) -> list[dict[str, Any]]:
        """Per-batch measurements as dicts; see :data:`FILTERS`."""
        return self.rows("measurements", **filters)

    def failures(self, **filters: Any) -> list[dict[str, Any]]:
        """Failures with their reasons as dicts; see :data:`FILTERS`."""
        return self.rows("failures", **filters)

    def runs(self, **filters: Any) -> list[dict[str, Any]]:
        """Runs with their provenance (``provenance`` and ``config`` decoded) as dicts."""
        return self.rows("runs", **filters)

    def windows(self, **filters: Any) -> list[dict[str, Any]]:
        """Ad-hoc ``joulebench meter`` windows as dicts."""
        return self.rows("windows", **filters)

    def frame(self, table: str, **filters: Any) -> pd.DataFrame:
        """Rows of ``table`` as a pandas DataFrame (same columns as :meth:`rows`, even when empty)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.rows(table, **filters), columns=self.columns(table))

    def summaries_frame(self, **filters: Any) -> pd.DataFrame:
        """:meth:`summaries` as a DataFrame."""
        return self.frame("summaries", **filters)

    def measurements_frame(self, **filters: Any) -> pd.DataFrame:
        """:meth:`measurements` as a DataFrame (for batch-size curves)."""
        return self.frame("measurements", **filters)

    def failures_frame(self, **filters: Any) -> pd.DataFrame:
        """:meth:`failures` as a DataFrame."""
        return self.frame("failures", **filters)

    def runs_frame(self, **filters: Any) -> pd.DataFrame:
        """:meth:`runs` as a DataFrame."""
        return self.frame("runs", **filters)

    def windows_frame(self, **filters: Any) -> pd.DataFrame:
        """:meth:`windows` as a DataFrame."""
        return self.frame("windows", **filters)
