"""Which GPUs a process sees: ``CUDA_VISIBLE_DEVICES`` parsed as CUDA does, and mapped to physical NVML indices."""

from __future__ import annotations

from collections.abc import Sequence

from joulebench.errors import MeterError


def parse_visible_devices(value: str | None) -> list[str] | None:
    """Split a ``CUDA_VISIBLE_DEVICES`` value into entries; None when the variable is unset.

    Entries are kept as written (``"1"``, ``"GPU-8a2f..."``, ``"MIG-..."``); like CUDA, the list ends at
    the first entry that is neither a non-negative integer nor a UUID form.
    """
    if value is None:
        return None
    out: list[str] = []
    for raw in value.split(","):
        entry = raw.strip()
        if entry.isdigit() or entry.upper().startswith(("GPU-", "MIG-")):
            out.append(entry)
        else:
            break  # "", "-1", garbage: CUDA ignores this entry and everything after it
    return out


def map_visible(entries: Sequence[str] | None, physical_uuids: Sequence[str]) -> list[int]:
    """Map visible device entries to physical NVML indices.

    Args:
        entries: Parsed ``CUDA_VISIBLE_DEVICES`` entries, or None (all devices in NVML order).
        physical_uuids: UUID of every NVML device, by NVML index.

    Returns:
        NVML index of visible device 0, 1, ...

    Raises:
        MeterError: If an entry names a MIG instance.
    """
    if entries is None:
        return list(range(len(physical_uuids)))
    out: list[int] = []
    for entry in entries:
        if entry.upper().startswith("MIG-"):
            raise MeterError(
                f"CUDA_VISIBLE_DEVICES selects the MIG instance {entry}: NVML reports energy and power per board, "
                "not per MIG instance, so joulebench cannot measure it; measure a whole GPU (MIG disabled) "
                "or use `--meter sim`"
            )
        if entry.isdigit():
            idx = int(entry)
            if idx >= len(physical_uuids):
                break
        else:
            matches = [i for i, u in enumerate(physical_uuids) if u.lower().startswith(entry.lower())]
            if len(matches) != 1:
                break
            idx = matches[0]
        if idx in out:
            break
        out.append(idx)
    return out
