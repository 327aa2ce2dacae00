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


def simulated(*setups: str | None) -> list[str]:
    """The setups among ``setups`` that hold the simulated meter's numbers (``H200:torch-fp32:sim``)."""
    return [s for s in setups if s and s.endswith(":sim")]


def print_simulated_banner(*setups: str | None) -> None:
    """Say on stdout, before a table, that a named setup holds simulated numbers, not measurements."""
    sims = simulated(*setups)
    if sims:
        console().print(
            f"[bold white on red] SIMULATED [/] [bold red]{', '.join(sims)}: numbers of the simulated meter,"
            " not measurements[/]"
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
