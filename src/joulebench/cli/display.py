"""How commands print: consoles on stdout and stderr, JSON, and the cell formats the tables share."""

from __future__ import annotations

import json
import math
import sys
from typing import Any


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


def table_console():
    """A console on stdout that does not squeeze tables to 80 columns when output is piped."""
    from rich.console import Console

    c = console()
    return c if c.is_terminal else Console(width=200)


def _cell_len(cell: Any) -> int:
    from rich.errors import MarkupError
    from rich.text import Text

    if isinstance(cell, Text):
        return cell.cell_len
    try:
        return Text.from_markup(str(cell)).cell_len
    except MarkupError:
        return len(str(cell))


def _natural_width(column: Any) -> int:
    """The characters a column takes with its cells unwrapped (a header wraps at its spaces), padding and a rule."""
    header = max((_cell_len(word) for word in str(column.header).split()), default=0)
    return max([header, *(_cell_len(c) for c in column._cells)]) + 3


def print_table(table: Any, essential: tuple[str, ...] | None = None, wide: bool = False) -> None:
    """Print a table where people read it: whole names always, fewer columns when the terminal is narrow.

    Piped or redirected, the table is plain text (no frame, no colour) with every column, never cut. In a
    terminal, the ``essential`` columns keep their full width and the others are left out, rightmost first,
    until the table fits; a caption names them. ``wide`` keeps them all, as wide as they need (the terminal
    wraps the lines).

    Args:
        table: A rich table.
        essential: Headers of the columns that are never left out nor cut; None: all of them (for a command
            without ``--wide``).
        wide: Show every column at its full width.
    """
    from rich.console import Console

    out = console()
    if essential is None:
        essential = tuple(str(c.header) for c in table.columns)
    if not out.is_terminal:
        table.box, table.show_edge, table.title_justify, table.caption_justify = None, False, "left", "left"
        plain = Console(width=10_000, color_system=None, highlight=False)
        plain.width = max(plain.measure(table).maximum, 80)
        plain.print(table)
        return
    measure = Console(width=10_000).measure(table).maximum
    if wide or measure <= out.width:
        full = Console(width=max(measure, out.width))
        full.print(table)
        return
    for col in table.columns:
        if col.header in essential:  # as wide as its widest cell: a name is never cut (its header may wrap)
            col.min_width = col.max_width = _natural_width(col) - 3
    natural = sum(_natural_width(c) for c in table.columns) + 1
    hidden: list[str] = []
    while natural > out.width:
        droppable = [i for i, c in enumerate(table.columns) if c.header not in essential]
        if not droppable:
            break
        col = table.columns.pop(droppable[-1])
        natural -= _natural_width(col)
        hidden.insert(0, str(col.header))
    if hidden:
        note = f"left out at this width: {', '.join(hidden)} (--wide shows all)"
        table.caption = f"{table.caption}; {note}" if table.caption else note
    out.print(table)


def simulated(*setups: str | None) -> list[str]:
    """The setups among ``setups`` that hold the simulated meter's numbers (``H200:torch-fp32:sim``)."""
    return [s for s in setups if s and s.endswith(":sim")]


def quick(*setups: str | None) -> list[str]:
    """The setups among ``setups`` measured with the quick protocol (``CPU:cpu-fp32:quick:sim``)."""
    return [s for s in setups if s and ":quick" in s.split(" ")[0]]


#: What a result of the quick protocol (``measure --quick``) is, for the listings that show one.
QUICK_NOTE = (
    "[bold yellow]quick[/] = quick protocol (0.3 s windows, for a try): not the default protocol, not comparable"
)


def print_simulated_banner(*setups: str | None) -> None:
    """Say on stdout, before a table, that a named setup holds simulated numbers or quick-protocol results."""
    sims = simulated(*setups)
    if sims:
        console().print(
            f"[bold white on red] SIMULATED [/] [bold red]{', '.join(sims)}: numbers of the simulated meter,"
            " not measurements[/]"
        )
    quicks = quick(*setups)
    if quicks:
        console().print(
            f"[bold black on yellow] QUICK PROTOCOL [/] [bold yellow]{', '.join(quicks)}: short windows for a try,"
            " not the default protocol; measure again without --quick for comparable numbers[/]"
        )


def missing(x: Any) -> bool:
    """True for None and NaN (pandas' and numpy's missing values)."""
    return x is None or x != x


def fmt_mj(j: Any) -> str:
    """Joules as millijoules with four significant digits; '–' when missing."""
    return "–" if missing(j) else f"{j * 1e3:.4g}"


def fmt_num(x: Any, spec: str) -> str:
    """A number in ``spec``; '–' when missing."""
    return "–" if missing(x) else format(float(x), spec)


def fmt_count(n: Any, unit: str = "") -> str:
    """A count as 25.6M, 4.1G...; '–' when missing."""
    from joulebench.models.stats import human_count

    return "–" if missing(n) else human_count(float(n)) + unit


#: Caption of a listing that flags a wide confidence interval.
WIDE_CI_NOTE = "! = the 95 % confidence interval of energy per image is wider than ±2 %: measure it again, longer"


def fmt_ci(ci95_rel: Any) -> str:
    """A relative 95 % confidence half-width as ``±0.5%``, flagged ``!`` when wide; blank when unknown (the paper's)."""
    from joulebench.store.records import wide_ci

    if missing(ci95_rel):
        return ""
    text = f"±{ci95_rel * 100:.1f}%"
    return f"[yellow]{text} ![/]" if wide_ci(ci95_rel) else text


def any_wide_ci(values: Any) -> bool:
    """True when any of ``values`` (relative half-widths) is a wide interval."""
    from joulebench.store.records import wide_ci

    return any(wide_ci(None if missing(v) else float(v)) for v in values)


def as_float(x: Any) -> float | None:
    """``x`` as a float, or None when missing."""
    return None if missing(x) else float(x)
