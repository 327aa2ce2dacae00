"""What the paper's own published files give for each key of ``joulebench paper``, beside joulebench's value.

Reads the reference ``paper-2025/`` folder in place (never copied) with :mod:`joulebench.analysis.paper_data`
and prints a Markdown table: key, the value the paper's files give, the value quoted for the paper where
joulebench has one. ``--write`` replaces the ``FROM_DATA`` block of ``src/joulebench/analysis/paper_published.py``
(between ``# paper_data:begin`` and ``# paper_data:end``) with the values, so none of them is typed by hand.

    PYTHONPATH=src python3 benchmarks/paper_data_values.py [--reference ../shared/reference] [--write]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from joulebench.analysis.paper_data import published_data_values
from joulebench.analysis.paper_published import PUBLISHED
from joulebench.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "src" / "joulebench" / "analysis" / "paper_published.py"
BEGIN, END = "# paper_data:begin", "# paper_data:end"


def literal(values: dict[str, float]) -> str:
    """The ``FROM_DATA`` assignment, one key a line, formatted as ruff formats it."""
    body = "".join(f'    "{k}": {v!r},\n' for k, v in values.items())
    return f"FROM_DATA: dict[str, float] = {{\n{body}}}\n"


def write_block(path: Path, values: dict[str, float]) -> None:
    """Replace the marked block of ``path`` with :func:`literal` of ``values``."""
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        sys.exit(f"{path} lacks the markers {BEGIN} and {END}")
    pattern = re.escape(BEGIN) + r"\n.*?" + re.escape(END)
    path.write_text(re.sub(pattern, lambda _: f"{BEGIN}\n{literal(values)}{END}", text, flags=re.S), encoding="utf-8")


def table(values: dict[str, float]) -> str:
    """Markdown: key, the paper's files, the quoted value."""
    lines = ["| key | paper's data | quoted |", "| --- | --- | --- |"]
    lines += [f"| {k} | {v:.4g} | {PUBLISHED[k][0] if k in PUBLISHED else '–'} |" for k, v in values.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference")
    ap.add_argument("--write", action="store_true", help=f"rewrite the FROM_DATA block of {TARGET.name}")
    args = ap.parse_args(argv)
    values = published_data_values(args.reference / "paper-2025", load_dataset().catalogue)
    if args.write:
        write_block(TARGET, values)
        print(f"wrote {len(values)} values into {TARGET}")
    else:
        print(table(values))


if __name__ == "__main__":
    main()
