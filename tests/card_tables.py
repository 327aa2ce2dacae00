"""Markdown table rows, as the data cards quote them and ``joulebench.analysis.dataset_report`` prints them."""

from __future__ import annotations


def row(text: str, first_cell: str) -> list[str]:
    """The cells of the markdown table row whose first cell is ``first_cell``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r}")


def rows(text: str, prefix: str) -> list[list[str]]:
    """The cells of every markdown table row that starts with ``prefix``."""
    return [
        [c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines() if line.startswith(prefix)
    ]
