"""Helpers shared by CLI commands: output mode, the database option, JSON emission."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import typer

DB_ENV = "JOULEBENCH_DB"
DEFAULT_DB = Path("joulebench.db")

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")
DbOpt = typer.Option(None, "--db", help=f"SQLite results file (default: ${DB_ENV} or ./joulebench.db).")


def db_path(db: Path | None) -> Path:
    """Resolve the results database: ``--db``, then ``$JOULEBENCH_DB``, then ``./joulebench.db``."""
    if db is not None:
        return Path(db)
    env = os.environ.get(DB_ENV)
    return Path(env) if env else DEFAULT_DB


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _clean(obj.item())
    return obj


def emit_json(obj: Any) -> None:
    """Write ``obj`` as JSON on stdout (NaN becomes null)."""
    sys.stdout.write(json.dumps(_clean(obj), indent=2, default=str) + "\n")


def console():
    """A rich console on stdout."""
    from rich.console import Console

    return Console()


def err_console():
    """A rich console on stderr (progress, warnings)."""
    from rich.console import Console

    return Console(stderr=True)
