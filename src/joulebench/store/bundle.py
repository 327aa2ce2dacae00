"""Bundles: a store's runs in one self-contained, versioned, checksummed file that another store can import.

A bundle is a zip archive (or, for version control, a folder with the same files) holding one CSV per table
(``runs``, ``summaries``, ``measurements``, ``failures``, ``windows``: every row as the store keeps it, JSON
columns as JSON text, SI units in the column names) and ``manifest.json``: the bundle format, the store's schema
version, the joulebench that wrote it, and each file's row count and SHA-256.

:func:`import_bundle` merges a bundle, or a CSV export (one file, or a folder of ``<table>.csv`` files), into a
store after :func:`joulebench.store.bundle_checks.check_tables` finds it sound. Rows the store already holds are
recognised and skipped; a row that differs from the stored row with the same key is a conflict: reported, never
written over.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from joulebench.errors import ConfigError, StoreError
from joulebench.store import schema
from joulebench.store.bundle_merge import Conflict, ImportReport, ordered, plan_import
from joulebench.store.db import Store

#: Version of the bundle layout (the manifest and its files); readers refuse newer ones.
BUNDLE_FORMAT = 1
MANIFEST = "manifest.json"
#: What ``manifest.json`` says the file is.
KIND = "joulebench-bundle"


@dataclass
class Tables:
    """Rows read from a bundle or an export, per table, as the store's ``rows()`` returns them.

    Attributes:
        source: The file or folder read.
        kind: ``bundle`` (with a manifest, checksums verified) or ``export`` (plain CSV files).
        rows: Table name -> rows (JSON columns decoded, bools as bools, empty cells as None).
        manifest: The bundle's manifest (None for an export).
    """

    source: Path
    kind: str
    rows: dict[str, list[dict[str, Any]]]
    manifest: dict[str, Any] | None = None


# -- writing ----------------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value  # str(float) is repr-exact, so numbers read back identical


def table_csv(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> bytes:
    """Rows as CSV bytes (header first; None as an empty cell, JSON columns as JSON text)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue().encode("utf-8")


def bundle_files(store: Store, **filters: Any) -> dict[str, bytes]:
    """The files of a bundle of ``store`` (rows filtered like :meth:`Store.rows`), manifest included."""
    from joulebench import __version__

    filters = {k: v for k, v in filters.items() if v is not None}
    files: dict[str, bytes] = {}
    entries = {}
    for table in schema.TABLES:
        rows = ordered(table, _filtered(store, table, filters))
        if table == "runs" and filters:
            rows_of = (_filtered(store, t, filters) for t in schema.TABLES if t != "runs")
            used = set().union(*({r["run_id"] for r in rs} for rs in rows_of))
            rows = [r for r in rows if r["run_id"] in used]
        data = table_csv(rows, Store.columns(table))
        name = f"{table}.csv"
        files[name] = data
        entries[name] = {"table": table, "rows": len(rows), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {
        "kind": KIND,
        "bundle_format": BUNDLE_FORMAT,
        "schema_version": schema.SCHEMA_VERSION,
        "joulebench": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": entries,
    }
    files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    return files


def _filtered(store: Store, table: str, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of ``table`` matching every filter.

    None when a filter names a column the table lacks (a model filter keeps no ``meter`` windows); ``runs`` match
    on the run's own filters, and :func:`bundle_files` keeps those the kept rows refer to.
    """
    if table == "runs":
        return store.rows("runs", **{k: v for k, v in filters.items() if k in ("run_id", "gpu", "meter")})
    own = set(Store.columns(table))
    if any(k not in ("run_id", "gpu", "meter") and k not in own for k in filters):
        return []
    return store.rows(table, **filters)


def write_bundle(store: Store, out: str | Path, **filters: Any) -> dict[str, Any]:
    """Write a bundle of ``store`` to ``out``: a zip archive, or a folder when ``out`` ends with a separator.

    Args:
        store: An open store.
        out: The archive (written to a temporary name, then renamed) or folder (its files replaced).
        **filters: See :data:`joulebench.store.db.FILTERS`; runs are kept when a kept row refers to them.

    Returns:
        The manifest written.

    Raises:
        StoreError: If ``out`` cannot be written.
    """
    import os
    import tempfile

    files = bundle_files(store, **filters)
    out_s = str(out)
    out = Path(out)
    try:
        if out_s.endswith(("/", os.sep)) or out.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (out / name).write_bytes(data)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
            try:
                with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
                    for name, data in files.items():
                        # a fixed time stamp: the same rows give the same archive
                        z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
                os.chmod(tmp, 0o644)
                os.replace(tmp, out)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    except OSError as e:
        raise StoreError(f"cannot write the bundle {out} ({e.strerror or e}): pick a writable path") from None
    return json.loads(files[MANIFEST])


# -- reading ----------------------------------------------------------------------------------------------


def _raw_files(path: Path) -> dict[str, bytes]:
    """Name -> bytes of a zip bundle, or of the CSV/JSON files of a folder, or of one CSV file."""
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file() and _is_table_or_manifest(p.name)}
    with open(path, "rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as z:
                return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
        except (zipfile.BadZipFile, OSError) as e:
            raise ConfigError(f"{path} is not a readable bundle ({e}): write it again with `export --bundle`") from None
    if path.suffix.lower() in (".parquet", ".pq"):
        raise ConfigError(
            f"{path} is a Parquet export: import reads bundles and CSV exports; write one with "
            "`joulebench export --bundle FILE` (or export the tables as .csv)"
        )
    return {path.name: path.read_bytes()}


def _is_table_or_manifest(name: str) -> bool:
    return name == MANIFEST or name.endswith((".csv", ".csv.gz"))


def _text(name: str, data: bytes, source: Path) -> str:
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise ConfigError(f"{source}: {name} is not a readable gzip file ({e})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: {name} is not UTF-8 text (byte {e.start}): export it again") from None


def _table_of(name: str, header: list[str]) -> str | None:
    """Which table a CSV holds: by its file name (``runs.csv``), else by its columns."""
    stem = name.removesuffix(".gz").removesuffix(".csv")
    if stem in schema.TABLE_COLUMNS:
        return stem
    cols = set(header)
    for table in schema.TABLES:
        if set(Store.columns(table)) == cols:
            return table
    return None


def _parse_value(table: str, column: str, text: str) -> Any:
    if text == "":
        return None
    if column in schema.JSON_COLUMNS[table]:
        return json.loads(text)
    if column in schema.BOOL_COLUMNS[table]:
        if text.lower() in ("true", "1"):
            return True
        if text.lower() in ("false", "0"):
            return False
        raise ValueError(f"'{text}' is not a truth value")
    sql = dict(schema.TABLE_COLUMNS[table])[column]
    if sql == "INTEGER":
        return int(float(text)) if "." in text or "e" in text.lower() else int(text)
    if sql == "REAL":
        return float(text)
    return text


def _parse_table(table: str, name: str, text: str, source: Path) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    known = Store.columns(table)
    unknown = [c for c in header if c not in known]
    if unknown:
        raise ConfigError(
            f"{source}: {name} has column(s) {', '.join(unknown)} that {table} does not have in schema version "
            f"{schema.SCHEMA_VERSION}: it was written by a newer joulebench; upgrade joulebench"
        )
    rows = []
    for line, values in enumerate(reader, start=2):
        if len(values) != len(header):
            raise ConfigError(f"{source}: {name}, line {line}: {len(values)} cells for {len(header)} columns")
        row = dict.fromkeys(known)
        for col, text_value in zip(header, values, strict=True):
            try:
                row[col] = _parse_value(table, col, text_value)
            except ValueError as e:
                raise ConfigError(
                    f"{source}: {name}, line {line}, column '{col}': cannot read '{text_value}' ({e})"
                ) from None
        rows.append(row)
    return rows


def read_tables(path: str | Path) -> Tables:
    """Read a bundle (zip or folder with ``manifest.json``) or a CSV export (a file, or a folder of them).

    A bundle's schema version, bundle format and checksums are verified here; its files must be exactly those
    its manifest lists.

    Raises:
        ConfigError: If the file is missing, unreadable, tampered with, or from a newer joulebench.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"there is no bundle or export at {path}: check the path")
    try:
        files = _raw_files(path)
    except OSError as e:
        raise ConfigError(f"cannot read {path} ({e.strerror or e}): check its permissions") from None
    manifest = None
    if MANIFEST in files:
        manifest = _verified_manifest(path, files)
        kind = "bundle"
    else:
        kind = "export"
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in schema.TABLES}
    seen: dict[str, str] = {}
    for name, data in files.items():
        if name == MANIFEST:
            continue
        text = _text(name, data, path)
        header = next(csv.reader(io.StringIO(text)), [])
        table = _table_of(name, header)
        if table is None:
            if kind == "bundle" or path.is_file():
                raise ConfigError(f"{path}: cannot tell which table {name} holds: name it runs.csv, summaries.csv, ...")
            continue  # other CSVs in an export folder (a panel list...) are not tables
        if table in seen:
            raise ConfigError(f"{path}: both {seen[table]} and {name} hold {table}: keep one")
        seen[table] = name
        rows[table] = _parse_table(table, name, text, path)
    if not seen:
        raise ConfigError(f"{path} holds no table of results: export one with `joulebench export` or `--bundle`")
    fill_summary_ci(rows["summaries"], rows["measurements"])
    return Tables(source=path, kind=kind, rows=rows, manifest=manifest)


def fill_summary_ci(summaries: list[dict[str, Any]], measurements: Iterable[Mapping[str, Any]]) -> None:
    """Give summaries of an older bundle or export the interval of their chosen batch, as the schema migration does.

    A successful summary without ``ci95_rel`` takes that of the latest ``ok`` batch row of its task at its optimal
    batch with its energy per image (:data:`joulebench.store.schema.SUMMARY_CI95_FROM_BATCH`).
    """
    chosen: dict[tuple[Any, ...], Any] = {}
    for m in ordered("measurements", list(measurements)):
        if m.get("status") == "ok":
            key = (m["run_id"], m["model"], m["img_size"], m["runtime"], m["batch_size"], m["energy_per_image_j"])
            chosen[key] = m.get("ci95_rel")
    for row in summaries:
        if row.get("ci95_rel") is None and row.get("status") == "ok":
            key = (row["run_id"], row["model"], row["img_size"], row["runtime"], row["optimal_batch"])
            row["ci95_rel"] = chosen.get((*key, row["energy_per_image_j"]))


def _verified_manifest(path: Path, files: Mapping[str, bytes]) -> dict[str, Any]:
    try:
        manifest = json.loads(files[MANIFEST])
    except ValueError as e:
        raise ConfigError(f"{path}: its manifest.json is not valid JSON ({e}): the bundle is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise ConfigError(f"{path}: its manifest.json is not a joulebench bundle's")
    fmt, version = manifest.get("bundle_format"), manifest.get("schema_version")
    if not isinstance(fmt, int) or not isinstance(version, int):
        raise ConfigError(f"{path}: its manifest lacks bundle_format or schema_version: the bundle is damaged")
    if fmt > BUNDLE_FORMAT or version > schema.SCHEMA_VERSION:
        raise ConfigError(
            f"{path} was written by a newer joulebench ({manifest.get('joulebench')}: bundle format {fmt}, schema "
            f"version {version}; this one reads up to {BUNDLE_FORMAT} and {schema.SCHEMA_VERSION}): upgrade joulebench"
        )
    listed = manifest.get("files") or {}
    tables = {n for n in files if n != MANIFEST}
    missing, extra = sorted(set(listed) - tables), sorted(tables - set(listed))
    if missing or extra:
        what = "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                     f"not in its manifest: {', '.join(extra)}" if extra else "") if p)  # fmt: skip
        raise ConfigError(f"{path} does not hold the files its manifest lists ({what}): refusing a tampered bundle")
    bad = [n for n, e in listed.items() if hashlib.sha256(files[n]).hexdigest() != (e or {}).get("sha256")]
    if bad:
        raise ConfigError(
            f"{path}: the checksum of {', '.join(sorted(bad))} does not match its manifest: the bundle was changed "
            "or damaged after it was written; refusing it (export it again from its store)"
        )
    return manifest


# -- merging ----------------------------------------------------------------------------------------------


def import_bundle(
    store: Store, path: str | Path, *, skip_conflicts: bool = False, dry_run: bool = False
) -> ImportReport:
    """Check a bundle or export and merge its rows into ``store`` in one transaction.

    Args:
        store: The store to merge into (opened for writing unless ``dry_run``).
        path: A bundle (zip or folder) or a CSV export (file or folder).
        skip_conflicts: Import the other rows when some conflict with stored ones (those are left as stored);
            without it, any conflict stops the import before anything is written.
        dry_run: Check and plan only; write nothing.

    Returns:
        What was added, recognised as already stored, or conflicted, and the checks' warnings.

    Raises:
        ConfigError: The bundle is unreadable, tampered with, from a newer joulebench, fails a check, or
            conflicts with the store (without ``skip_conflicts``).
    """
    from joulebench.store.bundle_checks import check_tables

    tables = read_tables(path)
    known_runs = {r["run_id"] for r in store.runs()}
    errors, warnings = check_tables(tables, known_runs)
    if errors:
        shown = "\n  ".join(errors[:20]) + (f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else "")
        raise ConfigError(f"{tables.source} fails its checks; nothing was imported:\n  {shown}")
    new, report = plan_import(store, tables)
    report.warnings = warnings
    if report.conflicts and not skip_conflicts:
        shown = "\n  ".join(c.describe() for c in report.conflicts[:20])
        more = f"\n  ... and {len(report.conflicts) - 20} more" if len(report.conflicts) > 20 else ""
        raise ConfigError(
            f"{len(report.conflicts)} row(s) of {tables.source} conflict with rows of {store.path}; nothing was "
            f"imported (pass --skip-conflicts to import the rest and keep the stored rows):\n  {shown}{more}"
        )
    if not dry_run and any(new.values()):
        store.insert_rows(new)
        report.written = True
    return report


@contextmanager
def store_of(path: str | Path) -> Iterator[Store]:
    """A temporary store holding the rows of a bundle or export (checked as :func:`import_bundle` does).

    For tools that read a store (the stale check, the scouting ladders): a dataset kept as a bundle in git needs
    no SQLite file beside it. The store is opened read-only and deleted on exit.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="joulebench-bundle-") as tmp:
        db = Path(tmp) / "bundle.db"
        with Store(db) as store:
            import_bundle(store, path)
        with Store.open_readonly(db) as store:
            yield store


__all__ = [
    "BUNDLE_FORMAT",
    "Conflict",
    "ImportReport",
    "Tables",
    "bundle_files",
    "import_bundle",
    "plan_import",
    "read_tables",
    "store_of",
    "write_bundle",
]
