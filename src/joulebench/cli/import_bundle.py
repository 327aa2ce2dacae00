"""``joulebench import``: merge a bundle or an export of another store into the results file, after checking it."""

from __future__ import annotations

from pathlib import Path

import typer

from joulebench.cli.display import emit_json, err_console
from joulebench.cli.options import DbOpt, JsonOpt, db_path


def import_(
    source: Path = typer.Argument(
        ..., help="A bundle (`joulebench export --bundle`), or a CSV export: file or folder."
    ),
    db: Path | None = DbOpt,
    skip_conflicts: bool = typer.Option(
        False, "--skip-conflicts", help="Import the other rows when some conflict with stored ones (kept as stored)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the bundle and say what would be imported."),
    as_json: bool = JsonOpt,
) -> None:
    """Merge a bundle or export into the results file, after checking it.

    Checked first: the schema version and checksums (bundles), complete provenance (every row's run and its
    protocol), energy per image against average power and throughput, and each window's energy against the
    meter it names. Rows already stored are skipped; a row that differs from a stored one with the same key
    is a conflict: listed, and nothing is imported unless --skip-conflicts.
    """
    from joulebench.store import Store
    from joulebench.store.bundle import import_bundle

    path = db_path(db)
    if dry_run and not path.exists():  # check against an empty store: a dry run creates no file
        import tempfile

        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "empty.db") as store:
            report = import_bundle(store, source, skip_conflicts=skip_conflicts, dry_run=True)
    else:
        with Store(path) as store:
            report = import_bundle(store, source, skip_conflicts=skip_conflicts, dry_run=dry_run)
    if as_json:
        emit_json(report.to_dict())
        return
    out = err_console()
    added = sum(report.added.values())
    dups = sum(report.duplicates.values())
    per_table = ", ".join(f"{n} {t}" for t, n in report.added.items() if n)
    verb = "would import" if dry_run else "imported"
    out.print(
        f"{verb} {added} row(s) from the {report.kind} {source} into {path}" + (f" ({per_table})" if per_table else "")
    )
    if dups:
        out.print(f"skipped {dups} row(s) already stored")
    for c in report.conflicts:
        out.print(f"[yellow]conflict, kept the stored row:[/] {c.describe()}")
    for w in report.warnings:
        out.print(f"[yellow]note:[/] {w}")


def register(app: typer.Typer) -> None:
    """Add ``import`` to the CLI."""
    app.command("import")(import_)
