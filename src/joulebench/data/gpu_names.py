"""Short GPU names for setups: ``'NVIDIA H200'`` -> ``H200``, a board of another form factor by its table."""

from __future__ import annotations

import re

_VENDOR = re.compile(r"^(nvidia|tesla|geforce|quadro|amd|radeon|instinct)\s+", re.I)

#: Boards whose short name keeps their form factor, keyed on the driver's name without the vendor, upper case,
#: words joined by one space. The paper's boards (A100 PCIe 40GB, H100 PCIe) are the plain ``A100`` and ``H100``
#: setups; another board of the same chip draws other power, so its results get a setup of their own.
BOARD_NAMES: dict[str, str] = {
    "H100 80GB HBM3": "H100-SXM",
    "H100 NVL": "H100-NVL",
    "A100 SXM4 40GB": "A100-SXM",
    "A100 SXM4 80GB": "A100-SXM",
}


def gpu_short_name(gpu_name: str | None) -> str:
    """Short GPU name used in setups: ``'NVIDIA H200'`` -> ``H200``, ``'NVIDIA A100-PCIE-40GB'`` -> ``A100``.

    ``'NVIDIA GeForce RTX 4090'`` -> ``RTX4090``; a board listed in :data:`BOARD_NAMES` gets its name there
    (``'NVIDIA H100 80GB HBM3'`` -> ``H100-SXM``); None or empty -> ``unknown``.
    """
    if not gpu_name or not str(gpu_name).strip():
        return "unknown"
    s = str(gpu_name).strip()
    while True:
        t = _VENDOR.sub("", s)
        if t == s:
            break
        s = t
    toks = [t for t in re.split(r"[\s\-_]+", s) if t]
    if not toks:
        return "unknown"
    if board := BOARD_NAMES.get(" ".join(toks).upper()):
        return board
    if toks[0].upper() in ("RTX", "GTX") and len(toks) > 1:
        return toks[0].upper() + toks[1].upper()
    return toks[0].upper()


__all__ = ["BOARD_NAMES", "gpu_short_name"]
