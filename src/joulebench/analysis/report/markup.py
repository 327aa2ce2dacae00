"""HTML pieces of the report: escaped text, number formatting, tables, the CSV behind a table, embedded figures."""

from __future__ import annotations

import base64
import html
import io
import math
from typing import TYPE_CHECKING, Any

from joulebench.analysis.frames import pyplot

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def esc(x: Any) -> str:
    """``x`` as text, HTML-escaped (quotes too): every user-provided string goes through this."""
    return html.escape(str(x), quote=True)


def fmt(v: Any) -> Any:
    """A float with four significant digits (scientific below 1e-3), NaN as empty; anything else as it is."""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        a = abs(v)
        return f"{v:.4g}" if (a >= 1e-3 or a == 0) else f"{v:.3e}"
    return v


def table(df: pd.DataFrame, max_rows: int | None = 40) -> str:
    """``df`` as an HTML table of at most ``max_rows`` rows (None: all), saying how many more the CSV has."""
    d = df if max_rows is None else df.head(max_rows)
    more = f"<p class=note>{len(df) - len(d)} more rows in the CSV below.</p>" if len(d) < len(df) else ""
    body = d.map(fmt) if hasattr(d, "map") else d.applymap(fmt)
    return body.to_html(index=False, escape=True, border=0, classes="t", na_rep="") + more


def csv(df: pd.DataFrame, name: str) -> str:
    """``df`` as CSV text in a folded block named ``name``.csv: the numbers behind a figure or table."""
    text = df.to_csv(index=False, float_format="%.6g")
    return (
        f"<details><summary>numbers behind this ({esc(name)}.csv, {len(df)} rows)</summary>"
        f"<pre class=csv data-name='{esc(name)}'>{esc(text)}</pre></details>"
    )


def png(fig) -> str:
    """A matplotlib figure as an ``<img>`` with the PNG inline (base64), so the report needs no other file."""
    plt = pyplot()
    buf = io.BytesIO()
    fig.tight_layout()  # cheaper than bbox_inches="tight", which draws every figure twice
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img alt='figure' src='data:image/png;base64,{data}'>"


def kv(d: dict[str, Any]) -> str:
    """A two-column table of a dict's keys and values."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(fmt(v))}</td></tr>" for k, v in d.items())
    return f"<table class=t>{rows}</table>"
