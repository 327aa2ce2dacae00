"""Host memory of a worker: what it holds (``/proc``), what torch has pinned, and whether a batch would exhaust it."""

from __future__ import annotations

import sys
from typing import Any


def host_memory() -> dict[str, Any]:
    """This process's resident set now and at its peak, and the machine's available memory, in bytes.

    Keys ``host_rss_b``, ``host_rss_peak_b`` (the kernel's high-water mark, ``VmHWM``), the resident set's parts
    ``host_rss_anon_b`` (the heap and other private memory), ``host_rss_file_b`` (mapped files and libraries)
    and ``host_rss_shmem_b`` (shared memory, where a driver's mappings of device memory would show), and
    ``host_available_b``. Kept per batch because a worker killed for host memory leaves no output: the rows
    before the kill show whether host memory grew with the batch, and :func:`host_memory_shortfall` projects
    it; the parts say what grew. Where shared memory reaches :data:`SHMEM_DETAIL_B`, ``host_shmem_mappings``
    also names what holds it (:func:`shared_mappings`), and :func:`pinned_host_memory` adds torch's own count of
    page-locked memory. Linux only (``/proc``); None elsewhere.
    """

    def fields_b(path: str) -> dict[str, float]:
        out: dict[str, float] = {}
        try:
            with open(path) as f:
                for line in f:
                    name, _, rest = line.partition(":")
                    parts = rest.split()
                    if len(parts) == 2 and parts[1] == "kB":  # the kernel reports kB
                        out[name] = float(parts[0]) * 1024
        except OSError:
            return {}
        return out

    status, meminfo = fields_b("/proc/self/status"), fields_b("/proc/meminfo")
    out: dict[str, Any] = {
        "host_rss_b": status.get("VmRSS"),
        "host_rss_peak_b": status.get("VmHWM"),
        "host_rss_anon_b": status.get("RssAnon"),
        "host_rss_file_b": status.get("RssFile"),
        "host_rss_shmem_b": status.get("RssShmem"),
        "host_available_b": meminfo.get("MemAvailable"),
    }
    if (status.get("RssShmem") or 0) >= SHMEM_DETAIL_B:  # reading smaps costs more: only where it tells something
        out["host_shmem_mappings"] = shared_mappings()
    out.update(pinned_host_memory())
    return out


def pinned_host_memory() -> dict[str, float]:
    """What torch's caching allocator of page-locked host memory holds now and held at most, in bytes.

    Keys ``host_pinned_b`` and ``host_pinned_peak_b``; empty where torch, CUDA or the statistics
    (``torch.cuda.host_memory_stats``, newer torch) are missing. Pinned memory is a shared mapping of
    ``/dev/zero`` to the kernel, so it also counts in ``host_rss_shmem_b``; a peak well above the current value
    shows that :func:`~joulebench.runtimes.base.empty_pinned_cache` gave it back.
    """
    torch = sys.modules.get("torch")
    stats_fn = getattr(getattr(torch, "cuda", None), "host_memory_stats", None)
    if stats_fn is None or not torch.cuda.is_initialized():
        return {}
    stats = stats_fn()
    pairs = (("host_pinned_b", "allocated_bytes.current"), ("host_pinned_peak_b", "allocated_bytes.peak"))
    return {key: float(stats[name]) for key, name in pairs if name in stats}


#: Shared memory from which :func:`host_memory` names the mappings that hold it (compile-fp16 workers on the H200
#: held up to 60 GB of it, torch-fp32 ones none).
SHMEM_DETAIL_B = 2**30


def shared_mappings(path: str = "/proc/self/smaps", top: int = 3) -> list[dict[str, Any]]:
    """The shared mappings of this process that hold the most resident memory, summed per name.

    Args:
        path: The kernel's per-mapping memory report.
        top: How many names to keep.

    Returns:
        ``[{"name", "rss_b", "mappings"}]``, largest first; ``name`` is the mapped file (``/dev/shm/…``,
        ``/memfd:… (deleted)``, a device such as ``/dev/nvidia-uvm``) or ``[shared anonymous]``. Empty where
        the report cannot be read or parsed.
    """
    sizes: dict[str, list[float]] = {}
    name: str | None = None
    try:
        with open(path) as f:
            for line in f:
                head = line.split(maxsplit=5)
                if len(head) >= 5 and "-" in head[0] and len(head[1]) == 4:  # a mapping: addr perms offset dev inode
                    shared = head[1][3] == "s"
                    name = (head[5].strip() or "[shared anonymous]") if len(head) > 5 else "[shared anonymous]"
                    name = name if shared else None
                elif name is not None and head[:1] == ["Rss:"] and len(head) >= 3 and head[2] == "kB":
                    sizes.setdefault(name, []).append(float(head[1]) * 1024)
    except (OSError, ValueError):  # diagnostics only: an unreadable report must not fail the measurement
        return []
    ranked = sorted(sizes.items(), key=lambda kv: -sum(kv[1]))[:top]
    return [{"name": n, "rss_b": sum(v), "mappings": len(v)} for n, v in ranked]


#: Share of the host's available memory a projected batch may take; the rest is headroom for the projection's
#: error and for other processes.
HOST_MEMORY_SHARE = 0.9


def host_memory_shortfall(rows: list[Any], batch: int, *, share: float = HOST_MEMORY_SHARE) -> str | None:
    """Why ``batch`` must not run because the worker's host memory would run out, or None.

    Some runtimes use host memory in proportion to the batch (seen on the H200 with resnet18d under
    compile-fp16: 14, 31 and 66 GB at batches 2,048, 4,096 and 8,192); the kernel's out-of-memory killer then
    ends the worker with SIGKILL and no output, losing the model. Host memory per image is taken from the two
    largest successful batches below ``batch`` that were each the largest so far when measured (the upward
    ladder: a smaller refinement batch measured later would read the larger one's peak and hide the growth),
    and the growth up to ``batch`` is compared with ``share`` of the memory available after the larger one.
    Memory that does not grow with the batch (torch, the model) projects no growth and never stops a batch.

    Args:
        rows: This task's measurements so far (``BatchMeasurement``).
        batch: The batch about to run.
        share: Share of the available memory the growth may take.

    Returns:
        A reason for an ``oom`` row (the projection, the memory available and what was done), or None.
    """
    known: dict[int, tuple[float, float]] = {}
    for r in rows:  # in the order measured
        ts = r.trace_summary or {}
        used = ts.get("host_rss_peak_b") or ts.get("host_rss_b")
        avail = ts.get("host_available_b")
        if r.status != "ok" or used is None or avail is None or (known and r.batch_size <= max(known)):
            continue
        known[r.batch_size] = (float(used), float(avail))
    known = {b: v for b, v in known.items() if b < batch}
    if len(known) < 2:
        return None
    a, b = sorted(known)[-2:]
    per_image = (known[b][0] - known[a][0]) / (b - a)
    growth = per_image * (batch - b)
    avail = known[b][1]
    if per_image <= 0 or growth <= share * avail:
        return None
    return (
        f"host memory: batch {batch} would need about {growth / 1e9:.0f} GB more host memory "
        f"({per_image / 1e6:.1f} MB per image from batches {a} to {b}), {avail / 1e9:.0f} GB available; not run"
    )


__all__ = [
    "HOST_MEMORY_SHARE",
    "SHMEM_DETAIL_B",
    "host_memory",
    "host_memory_shortfall",
    "pinned_host_memory",
    "shared_mappings",
]
