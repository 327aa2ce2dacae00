"""Report section 8: the paper's tables and figures recomputed on the report's setups, beside the published values."""

from __future__ import annotations

import pandas as pd

from joulebench.analysis.paper import PaperData, paper_rows
from joulebench.analysis.paper_figures import FIGURES
from joulebench.analysis.report.inputs import ReportInput, Summary
from joulebench.analysis.report.markup import csv, table

_NOTE = (
    "<p class=note>Every quantitative result of “The Hidden Joules” (Table 1, Figs. 1–3, 5–10, Table 3, A.7, A.8) "
    "computed on these setups, beside the paper's value where joulebench has it, with a note where they differ. "
    "The first table names each figure, the keys of its rows and where its number is inferred (marked “?”). "
    "Keys: <code>figure/setup/quantity</code>; the same rows as <code>joulebench paper --json</code>. "
    "Table 3's fit is ln E[mJ] = const + b ln params + c ln GMACs + d ln activations.</p>"
)


def paper_section(inp: ReportInput, summary: Summary) -> str:
    """Section 8: the rows of :func:`joulebench.analysis.paper.paper_rows` as a table, their CSV and summary."""
    data = PaperData(inp.energy, inp.accuracy, inp.catalogue, inp.stats)
    rows = [r.to_dict() for r in paper_rows(data, inp.setups, k=inp.cv_folds)]
    summary["paper"] = rows
    df = pd.DataFrame(rows, columns=["key", "quantity", "published", "computed", "note"])
    figs = pd.DataFrame(
        [(f.label, f.shows, f.prefix, f.number_source) for f in FIGURES], columns=["figure", "shows", "keys", "number"]
    )
    parts = ["<h2>8. The paper's results on these setups</h2>", _NOTE, table(figs, None), table(df, None)]
    return "\n".join([*parts, csv(df, "paper")])
