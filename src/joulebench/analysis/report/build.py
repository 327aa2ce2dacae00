"""Assemble the report: run each section in turn and fill the page template (``template.html``) with them."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from joulebench.analysis.frames import check_choice, drop_test_models, setups_of, static_facts
from joulebench.analysis.report.accuracy_sections import energy_accuracy_section, ranking_section, robustness_section
from joulebench.analysis.report.energy_sections import (
    consistency_section,
    correlations_section,
    effects_section,
    estimators_section,
)
from joulebench.analysis.report.inputs import ReportInput, Summary
from joulebench.analysis.report.markup import esc
from joulebench.analysis.report.paper_section import paper_section
from joulebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Sections 1 to 6 in the order they appear; each returns its HTML and adds its numbers to the summary.
SECTIONS: tuple[Callable[[ReportInput, Summary], str], ...] = (
    energy_accuracy_section,
    robustness_section,
    correlations_section,
    estimators_section,
    effects_section,
    ranking_section,
)


@dataclass
class Report:
    """The HTML text and the summary numbers behind it."""

    html: str
    summary: dict[str, Any] = field(default_factory=dict)

    def write(self, path: str | Path) -> Path:
        """Write the HTML to ``path`` (UTF-8) and return the path."""
        p = Path(path)
        p.write_text(self.html, encoding="utf-8")
        return p


def build_report(
    energy: pd.DataFrame,
    accuracy: pd.DataFrame,
    catalogue: pd.DataFrame | None = None,
    stats: pd.DataFrame | None = None,
    setups: Sequence[str] | None = None,
    measurements: pd.DataFrame | None = None,
    intensity_g_per_kwh: float | None = None,
    price_per_kwh: float | None = None,
    currency: str = "",
    include_test_models: bool = False,
    weight: float = 0.5,
    cv_folds: int = 5,
    command: str = "",
) -> Report:
    """Build the HTML report for ``setups`` (default: every setup in ``energy``).

    Args:
        energy: The dataset view's energy table.
        accuracy: Its accuracy table.
        catalogue: Its catalogue (type, family, statistics), or None.
        stats: Its computed statistics table, or None.
        setups: Setups to report on (ConfigError lists the available ones when one is unknown).
        measurements: Per-batch store rows for batch-size curves (None or empty: that section says so).
        intensity_g_per_kwh: Grid intensity for the carbon columns of the ranking tables (None: none).
        price_per_kwh: Electricity price for the cost columns (None: none).
        currency: Label of the price's currency.
        include_test_models: Keep timm's ``test_*`` models (untrained fixtures; dropped by default).
        weight: W of the Manhattan score in the ranking tables.
        cv_folds: Folds of the estimator cross-validation.
        command: The command line that made the report (printed in it).
    """
    avail = setups_of(energy)
    setups = list(setups) if setups else avail
    for s in setups:
        check_choice(s, avail, "setup")
    if not include_test_models:
        energy = drop_test_models(energy)
    inp = ReportInput(
        energy=energy,
        accuracy=accuracy,
        catalogue=catalogue,
        stats=stats,
        facts=static_facts(catalogue, stats),
        setups=setups,
        measurements=measurements,
        intensity_g_per_kwh=intensity_g_per_kwh,
        price_per_kwh=price_per_kwh,
        currency=currency,
        weight=weight,
        cv_folds=cv_folds,
    )
    summary: Summary = {"setups": setups, "per_setup": {}}
    parts = [_guarded(section, inp, summary) for section in SECTIONS]
    html_part, summary["consistency"] = consistency_section(energy, catalogue, setups)
    parts.append(html_part)
    parts.append(paper_section(inp, summary))
    return Report(_page("\n".join(parts), energy, setups, include_test_models, command), summary)


#: A setup with fewer models than this is the first suspect when a section cannot use every setup.
SMALL_SETUP = 10


def _guarded(section: Callable[[ReportInput, Summary], str], inp: ReportInput, summary: Summary) -> str:
    """A section on every setup; else on the setups with enough models, naming those left out; else why not.

    A setup of a few own measurements must not cost the report a section on the others: the report writes
    every section it can and says in place of the others what they need.
    """
    try:
        return section(inp, summary)
    except ConfigError as exc:
        reason = str(exc)
    counts = {s: inp.energy.loc[inp.energy["setup"] == s, "model"].nunique() for s in inp.setups}
    large = [s for s in inp.setups if counts[s] >= SMALL_SETUP]
    title = esc((section.__doc__ or section.__name__).splitlines()[0].rstrip("."))
    if large and len(large) < len(inp.setups):
        try:
            html = section(replace(inp, setups=large), summary)
        except ConfigError as exc:
            reason = str(exc)
        else:
            small = ", ".join(f"{esc(s)} ({counts[s]} models)" for s in inp.setups if s not in large)
            return html + f"<p class=note>Left out of this section: {small}; it needs more models: {esc(reason)}</p>"
    summary.setdefault("skipped", []).append({"section": title, "reason": reason})
    return f"<section><h2>{title}</h2><p class=note>Not written: {esc(reason)}</p></section>"


def _page(body: str, energy: pd.DataFrame, setups: list[str], include_test_models: bool, command: str) -> str:
    """The whole page: the template filled with the time, the command, the setups, the energy sources and ``body``."""
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sources = sorted(energy["source"].dropna().unique()) if "source" in energy.columns else []
    template = Template(files(__package__).joinpath("template.html").read_text(encoding="utf-8").rstrip("\n"))
    return template.substitute(
        generated=when + (f" by <code>{esc(command)}</code>" if command else ""),
        setups=", ".join(esc(s) for s in setups),
        test_models="" if include_test_models else " timm's untrained test_* models are left out.",
        sources=f"<p class=note>Energy sources: {', '.join(esc(x) for x in sources)}.</p>" if sources else "",
        body=body,
    )
