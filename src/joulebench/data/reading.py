"""Reading reference files: CSV rows with line numbers, and checked values whose errors name file, line, column."""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from joulebench.errors import ConfigError


def number(value: str, path: Path, line: int, column: str, kind: Callable[[str], float] = float) -> float | None:
    """``value`` as a number of type ``kind`` (None when empty or NaN); ConfigError naming file, line, column."""
    s = value.strip().replace(",", "") if value is not None else ""
    if s == "" or s.lower() in ("nan", "none", "null"):
        return None
    try:
        x = kind(s) if kind is not int else int(float(s))
    except ValueError:
        raise ConfigError(f"{path}, line {line}, column '{column}': cannot read '{value}' as a number") from None
    if isinstance(x, float) and math.isinf(x):
        raise ConfigError(f"{path}, line {line}, column '{column}': infinite value '{value}'")
    return x


def read_csv_rows(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Read a CSV file as ``(line number, row dict)``; checks the header and the field count of every line.

    Raises:
        ConfigError: If the file is missing, a required column is absent, or a line has the wrong number
            of fields (the message names the file, the line and the column).
    """
    if not path.exists():
        raise ConfigError(f"{path}: file not found; the reference folder must contain it")
    try:
        return _read_csv_rows(path, required)
    except UnicodeDecodeError:
        raise ConfigError(_not_utf8(path)) from None


def _not_utf8(path: Path) -> str:
    """Where ``path`` stops being UTF-8: the message names the file, the line and the byte."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                byte = raw[e.start : e.start + 1].hex()
                return (
                    f"{path}, line {number}: byte 0x{byte} is not UTF-8; save the file as UTF-8 (it looks like"
                    " Latin-1 or Windows-1252), e.g. `iconv -f latin1 -t utf-8 FILE > NEW`"
                )
    return f"{path}: not UTF-8; save the file as UTF-8"


def _read_csv_rows(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise ConfigError(f"{path}, line 1: empty file, expected a header with {', '.join(required)}") from None
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise ConfigError(
                f"{path}, line 1: missing column(s) {', '.join(repr(c) for c in missing)}; found {', '.join(header)}"
            )
        rows = []
        for fields in reader:
            line = reader.line_num
            if not fields or all(not x.strip() for x in fields):
                continue
            if len(fields) != len(header):
                col = header[len(fields)] if len(fields) < len(header) else f"#{len(fields)} (beyond the header)"
                raise ConfigError(
                    f"{path}, line {line}, column '{col}': expected {len(header)} fields, found {len(fields)}"
                )
            rows.append((line, dict(zip(header, fields, strict=True))))
    return rows


def nonempty(row: dict[str, str], path: Path, line: int, column: str) -> str:
    """The non-empty text in ``column`` of ``row``; ConfigError naming file, line, column when empty."""
    v = (row.get(column) or "").strip()
    if not v:
        raise ConfigError(f"{path}, line {line}, column '{column}': empty value")
    return v


def input_size(row: dict[str, str], path: Path, line: int, column: str) -> int:
    """The positive input size in ``column`` of ``row``; ConfigError naming file, line, column otherwise."""
    v = number(row[column], path, line, column, int)
    if v is None or v <= 0:
        raise ConfigError(
            f"{path}, line {line}, column '{column}': expected a positive input size, got '{row[column]}'"
        )
    return int(v)


def scaled(v: float | None, factor: float) -> float | None:
    """``v`` times ``factor``, None staying None (unit conversion of an optional value)."""
    return None if v is None else v * factor


def int_or_none(v: float | None) -> int | None:
    """``v`` rounded to an int, None staying None."""
    return None if v is None else int(round(v))


def reference_commit(folder: Path) -> str | None:
    """The upstream commit a reference folder was copied from (the last word of its ``COMMIT`` file), if known."""
    p = folder / "COMMIT"
    if not p.exists():
        return None
    text = p.read_text(encoding="utf-8").split()
    return text[-1] if text else None
