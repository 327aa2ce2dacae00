"""The SQLite schema of the results store, its version and the migrations between versions.

The file is marked as joulebench's with ``PRAGMA application_id`` and carries the schema version in
``PRAGMA user_version``; the ``meta`` table records which joulebench created (and last migrated) it.
Column names carry SI units like the record fields they come from.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import fields

from joulebench.store.records import BatchMeasurement, Failure, ModelSummary

#: ``PRAGMA application_id`` of every joulebench database: the ASCII bytes "JBDB".
APPLICATION_ID = 0x4A424442

#: The schema version this joulebench writes (``PRAGMA user_version``).
SCHEMA_VERSION = 4

#: Columns holding JSON text in the database and dicts in Python.
JSON_COLUMNS = {
    "runs": ("provenance", "config"),
    "measurements": ("trace_summary",),
    "windows": ("trace_summary", "devices"),
    "summaries": (),
    "failures": (),
}

#: Columns stored as 0/1 integers and read back as bools.
BOOL_COLUMNS = {
    "runs": (),
    "measurements": (),
    "summaries": ("throttled",),
    "failures": (),
    "windows": ("aligned",),
}

#: Provenance keys promoted to columns of ``runs`` (the first key found in the provenance dict wins).
RUN_PROVENANCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "gpu_name": ("gpu_name", "gpu.name", "gpus.0.name"),
    "gpu_uuid": ("gpu_uuid", "gpu.uuid", "gpus.0.uuid"),
    "power_limit_w": ("power_limit_w", "gpu.power_limit_w", "gpus.0.power_limit_w"),
    "driver": ("driver", "driver_version", "gpu.driver"),
    "cuda": ("cuda", "cuda_version"),
    "torch": ("torch", "torch_version"),
    "timm": ("timm", "timm_version"),
    "joulebench": ("joulebench", "joulebench_version"),
    "host": ("host", "hostname"),
}


def _sql_type(annotation: str) -> str:
    base = annotation.replace(" | None", "").strip()
    if base.startswith("dict"):
        return "TEXT"
    return {"int": "INTEGER", "float": "REAL", "str": "TEXT", "bool": "INTEGER"}[base]


def record_columns(cls: type) -> list[tuple[str, str]]:
    """(column, SQL type) pairs of a record dataclass, in field order."""
    return [(f.name, _sql_type(str(f.type))) for f in fields(cls)]


#: Columns of each table in order (the primary key ``id`` of row tables is left out).
RUN_COLUMNS: list[tuple[str, str]] = [
    ("run_id", "TEXT"),
    ("started_at", "TEXT"),
    ("finished_at", "TEXT"),
    ("status", "TEXT"),
    ("meter", "TEXT"),
    ("command", "TEXT"),
    *((name, "REAL" if name.endswith("_w") else "TEXT") for name in RUN_PROVENANCE_COLUMNS),
    ("config_hash", "TEXT"),
    ("provenance", "TEXT"),
    ("config", "TEXT"),
]

WINDOW_COLUMNS: list[tuple[str, str]] = [
    ("window_id", "INTEGER"),
    ("run_id", "TEXT"),
    ("label", "TEXT"),
    ("exit_code", "INTEGER"),
    ("meter", "TEXT"),
    ("method", "TEXT"),
    ("energy_j", "REAL"),
    ("duration_s", "REAL"),
    ("avg_power_w", "REAL"),
    ("counter_energy_j", "REAL"),
    ("sampled_energy_j", "REAL"),
    ("idle_power_w", "REAL"),
    ("idle_energy_j", "REAL"),
    ("dynamic_energy_j", "REAL"),
    ("aligned", "INTEGER"),
    ("started_at", "REAL"),
    ("devices", "TEXT"),
    ("trace_summary", "TEXT"),
]

TABLE_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "runs": RUN_COLUMNS,
    "measurements": record_columns(BatchMeasurement),
    "summaries": record_columns(ModelSummary),
    "failures": record_columns(Failure),
    "windows": WINDOW_COLUMNS,
}

#: Tables the user can list or export, in display order.
TABLES = ("summaries", "measurements", "failures", "runs", "windows")


_NOT_NULL = ("run_id", "model", "runtime")


def _cols(table: str) -> str:
    return ",\n    ".join(
        f"{name} {typ}{' NOT NULL' if name in _NOT_NULL else ''}" for name, typ in TABLE_COLUMNS[table]
    )


#: Tasks live sweeps are measuring (:mod:`joulebench.store.claims`): the working state of running sweeps, not
#: results, so neither listed nor exported. ``scope`` is the GPU model (or boards) the claim holds for.
_CLAIM_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS claims (\n    model TEXT NOT NULL,\n    img_size INTEGER,\n    runtime TEXT NOT NULL,"
    "\n    config_hash TEXT,\n    meter TEXT,\n    scope TEXT,\n    run_id TEXT NOT NULL,\n    host TEXT,"
    "\n    pid INTEGER,\n    claimed_at TEXT,\n    heartbeat_at TEXT\n)",
    "CREATE INDEX IF NOT EXISTS claims_task ON claims (model, img_size, runtime)",
)


def _create_statements() -> list[str]:
    task_key = "run_id, model, img_size, runtime"
    return [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE runs (\n    " + _cols("runs").replace("run_id TEXT", "run_id TEXT PRIMARY KEY", 1) + "\n)",
        f"CREATE TABLE measurements (\n    id INTEGER PRIMARY KEY,\n    {_cols('measurements')},\n"
        "    FOREIGN KEY (run_id) REFERENCES runs(run_id)\n)",
        f"CREATE INDEX measurements_task ON measurements ({task_key})",
        "CREATE INDEX measurements_model ON measurements (model, img_size)",
        f"CREATE TABLE summaries (\n    id INTEGER PRIMARY KEY,\n    {_cols('summaries')},\n"
        f"    UNIQUE ({task_key}),\n    FOREIGN KEY (run_id) REFERENCES runs(run_id)\n)",
        "CREATE INDEX summaries_model ON summaries (model, img_size)",
        "CREATE INDEX summaries_done ON summaries (gpu_uuid, status)",
        f"CREATE TABLE failures (\n    id INTEGER PRIMARY KEY,\n    {_cols('failures')},\n"
        "    FOREIGN KEY (run_id) REFERENCES runs(run_id)\n)",
        f"CREATE INDEX failures_task ON failures ({task_key})",
        f"CREATE TABLE windows (\n    {_cols('windows').replace('window_id INTEGER', 'window_id INTEGER PRIMARY KEY')},"
        "\n    FOREIGN KEY (run_id) REFERENCES runs(run_id)\n)",
        *_CLAIM_STATEMENTS,
    ]


def create_schema(conn: sqlite3.Connection, joulebench_version: str, now: str) -> None:
    """Create the current schema in an empty database (inside the caller's transaction)."""
    for stmt in _create_statements():
        conn.execute(stmt)
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("created_by", joulebench_version), ("created_at", now), ("schema_version", str(SCHEMA_VERSION))],
    )
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    # failures remember how long a task ran before a deadline stopped it, so the next run can plan for it
    conn.execute("ALTER TABLE failures ADD COLUMN gpu_seconds REAL")


#: Fills a summary's missing ``ci95_rel`` from the batch row it was chosen from: the same task and batch size,
#: status ok, the same energy per image (the latest such row).
SUMMARY_CI95_FROM_BATCH = """
UPDATE summaries SET ci95_rel = (
    SELECT m.ci95_rel FROM measurements m
    WHERE m.run_id = summaries.run_id AND m.model = summaries.model AND m.img_size IS summaries.img_size
      AND m.runtime = summaries.runtime AND m.batch_size = summaries.optimal_batch AND m.status = 'ok'
      AND m.energy_per_image_j = summaries.energy_per_image_j
    ORDER BY m.id DESC LIMIT 1
) WHERE ci95_rel IS NULL AND status = 'ok'
"""


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    # every result carries the confidence interval of its energy per image: its chosen batch's
    conn.execute("ALTER TABLE summaries ADD COLUMN ci95_rel REAL")
    conn.execute(SUMMARY_CI95_FROM_BATCH)


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    # two sweeps on one store claim a task before measuring it, so that they never measure it twice
    for stmt in _CLAIM_STATEMENTS:
        conn.execute(stmt)


#: ``MIGRATIONS[n]`` upgrades a database from schema version ``n`` to ``n + 1`` (inside one transaction).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}

#: Versions whose step to the next one only adds columns or tables that reads do not need: a read-only open reads
#: such a file as it is (the missing columns read as None), so looking at an older store does not need write
#: access. (Schema 3's step also fills the new column from stored batches; read as it is, an older file shows no
#: interval until migrated. Schema 4's adds the ``claims`` of running sweeps, which only sweeps use.)
ADDITIVE: frozenset[int] = frozenset({1, 2, 3})


def readable_as_is(version: int) -> bool:
    """True when every step from ``version`` to :data:`SCHEMA_VERSION` only adds columns."""
    return all(v in ADDITIVE for v in range(version, SCHEMA_VERSION))


def migrate(conn: sqlite3.Connection, from_version: int, joulebench_version: str, now: str) -> int:
    """Upgrade the schema from ``from_version`` to :data:`SCHEMA_VERSION` inside the caller's transaction.

    Args:
        conn: Connection with an open write transaction.
        from_version: The database's current ``user_version``.
        joulebench_version: Recorded in ``meta`` as the version that migrated the file.
        now: ISO-8601 time recorded beside it.

    Returns:
        The new schema version.

    Raises:
        KeyError: If a step is missing (a programming error: every version needs its migration).
    """
    version = from_version
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](conn)
        version += 1
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (f"migrated_to_{version}", f"{joulebench_version} {now}"),
        )
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(version),))
    conn.execute(f"PRAGMA user_version = {version}")
    return version
