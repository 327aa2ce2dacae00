"""``joulebench paper``: every quantitative result of "The Hidden Joules" beside the published value."""

from __future__ import annotations

from pathlib import Path

import typer

from joulebench.cli import loading
from joulebench.cli.display import console, emit_json
from joulebench.cli.options import DbOpt, IncludeTestOpt, JsonOpt


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
        include_test_models: bool = IncludeTestOpt,
        json_out: bool = JsonOpt,
        db: Path | None = DbOpt,
    ) -> None:
        """The paper's tables and figures (Table 1, Figs. 1-3, 5-10, Table 3, A.7, A.8) computed on the data.

        First the figures: each one's number, what it shows, the key prefix of its rows and whether its number is
        inferred. Then each row: the published value (quoted for the paper, or computed from its published data,
        as the note says), joulebench's and a note where they differ and why. With --setup the same quantities come
        from those setups, your own measurements included; timm's untrained test_* models are left out unless
        --include-test-models. --json: {"figures": [...], "rows": [...]}.
        """
        from joulebench.analysis.frames import drop_test_models
        from joulebench.analysis.paper import PaperData, paper_rows
        from joulebench.analysis.paper_figures import FIGURES, figure_of

        ds = loading.load(db)
        stats = getattr(ds, "stats", None)
        energy = ds.energy if include_test_models else drop_test_models(ds.energy)  # as report and frontier do
        data = PaperData(energy, ds.accuracy, ds.catalogue, stats if hasattr(stats, "columns") else None)
        rows = paper_rows(data, setup or None, k=folds)
        if json_out:
            emit_json({"figures": [f.to_dict() for f in FIGURES], "rows": [r.to_dict() for r in rows]})
            return
        from rich.console import Console
        from rich.table import Table

        out = console()
        out = out if out.is_terminal else Console(width=220)
        figs = Table(title="The paper's figures and tables", show_lines=False)
        for c in ("figure", "shows", "keys", "number"):
            figs.add_column(c, overflow="fold")
        for f in FIGURES:
            figs.add_row(f.label, f.shows, f"{f.prefix}…", f.number_source)
        out.print(figs)
        t = Table(title="The Hidden Joules, recomputed", show_lines=False)
        for c in ("figure", "key", "quantity", "published", "computed", "note"):
            t.add_column(c, justify="right" if c in ("published", "computed") else "left", overflow="fold")
        for r in rows:
            fig = figure_of(r.key)
            t.add_row(fig.label if fig else "", r.key, r.quantity, _fmt(r.published), _fmt(r.computed), r.note)
        out.print(t)
