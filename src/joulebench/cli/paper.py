"""``joulebench paper``: every quantitative result of "The Hidden Joules" beside the published value."""

from __future__ import annotations

from pathlib import Path

import typer

from joulebench.cli import loading
from joulebench.cli.display import console, emit_json
from joulebench.cli.options import DbOpt, JsonOpt


def _fmt(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"


def register(app: typer.Typer) -> None:
    """Add ``paper`` to the CLI."""

    @app.command("paper")
    def paper_cmd(
        setup: list[str] = typer.Option(
            [], "--setup", "-s", help="Setup(s) to compute on (repeatable; default: the paper's four)."
        ),
        folds: int = typer.Option(5, "--folds", help="Folds of every cross-validation."),
        json_out: bool = JsonOpt,
        db: Path | None = DbOpt,
    ) -> None:
        """The paper's tables and figures (Table 1, Figs. 1, 5, 6, 9a, 10, Table 3, A.7, A.8) computed on the data.

        Each row gives the published value (where joulebench has it), joulebench's and a note where they differ
        and why. With --setup the same quantities come from those setups, your own measurements included.
        """
        from joulebench.analysis.paper import PaperData, paper_rows

        ds = loading.load(db)
        stats = getattr(ds, "stats", None)
        data = PaperData(ds.energy, ds.accuracy, ds.catalogue, stats if hasattr(stats, "columns") else None)
        rows = paper_rows(data, setup or None, k=folds)
        if json_out:
            emit_json({"rows": [r.to_dict() for r in rows]})
            return
        from rich.console import Console
        from rich.table import Table

        out = console()
        out = out if out.is_terminal else Console(width=220)
        t = Table(title="The Hidden Joules, recomputed", show_lines=False)
        for c in ("key", "quantity", "published", "computed", "note"):
            t.add_column(c, justify="right" if c in ("published", "computed") else "left", overflow="fold")
        for r in rows:
            t.add_row(r.key, r.quantity, _fmt(r.published), _fmt(r.computed), r.note)
        out.print(t)
