"""Parse and format quantities. Internally everything is SI (J, s, W, B); display units only at the edges."""

from __future__ import annotations

import re

from joulebench.errors import ConfigError

_ENERGY = {"j": 1.0, "mj": 1e-3, "uj": 1e-6, "µj": 1e-6, "kj": 1e3, "wh": 3600.0, "kwh": 3.6e6}
_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0, "m": 60.0, "h": 3600.0}
_BYTES = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_NUM = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-zA-Zµ]*)\s*$")


def _parse(text: str | float, table: dict[str, float], default: str, what: str) -> float:
    if isinstance(text, (int, float)):
        return float(text)
    m = _NUM.match(str(text))
    if not m:
        raise ConfigError(f"cannot read {what} '{text}': write a number with a unit, e.g. 20{default}")
    value, unit = float(m.group(1)), (m.group(2) or default).lower()
    if unit not in table:
        raise ConfigError(f"unknown {what} unit '{m.group(2)}' in '{text}': use one of {', '.join(table)}")
    return value * table[unit]


def parse_energy_j(text: str | float, default_unit: str = "j") -> float:
    """Parse '20mJ', '0.5 J', '1kWh' into joules."""
    return _parse(text, _ENERGY, default_unit, "energy")


def parse_time_s(text: str | float, default_unit: str = "s") -> float:
    """Parse '50ms', '5s', '2min' into seconds."""
    return _parse(text, _TIME, default_unit, "duration")


def parse_bytes(text: str | float, default_unit: str = "b") -> float:
    """Parse '16GiB', '500MB' into bytes."""
    return _parse(text, _BYTES, default_unit, "size")


_TEMPERATURE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+))\s*°?\s*[cC]\s*$")


def is_temperature(text: str) -> bool:
    """True for a Celsius temperature such as '45C' or '45 °C' (no duration unit ends in C)."""
    return _TEMPERATURE.match(str(text)) is not None


def parse_temperature_c(text: str | float) -> float:
    """Parse '45C', '45 °C' or a bare number into degrees Celsius."""
    if isinstance(text, (int, float)):
        return float(text)
    m = _TEMPERATURE.match(str(text))
    if not m:
        raise ConfigError(f"cannot read temperature '{text}': write degrees Celsius, e.g. 45C")
    return float(m.group(1))


def parse_percent(text: str | float) -> float:
    """Parse '1%' or '0.01' into a fraction (0.01)."""
    s = str(text).strip()
    try:
        return float(s[:-1]) / 100.0 if s.endswith("%") else float(s)
    except ValueError:
        raise ConfigError(f"cannot read percentage '{text}': write e.g. 1%") from None


def fmt_energy(j: float | None) -> str:
    """Human display of an energy: picks J, mJ or µJ."""
    if j is None or j != j:
        return "–"
    a = abs(j)
    if a >= 1e3:
        return f"{j / 1e3:.3g} kJ"
    if a >= 1:
        return f"{j:.4g} J"
    if a >= 1e-3:
        return f"{j * 1e3:.4g} mJ"
    return f"{j * 1e6:.4g} µJ"


def fmt_time(s: float | None) -> str:
    """Human display of a duration."""
    if s is None or s != s:
        return "–"
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def fmt_power(w: float | None) -> str:
    """Human display of a power."""
    return "–" if w is None or w != w else f"{w:.1f} W"
