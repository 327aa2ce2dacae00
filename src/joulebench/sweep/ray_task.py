"""Inside a Ray task of the ``ray`` executor: run one task on the granted device, relaying events and stop requests.

:class:`_Channel` is the one small actor between the driver and its tasks; :func:`_ray_task` is the body of each
Ray task; :func:`stamp_provenance` names the node and GPU on its result.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from joulebench.sweep.tasks import Task, TaskResult

#: Seconds between a running task's posts of its events (and checks for a stop request).
POLL_S = 0.5


def _node_label(node_id: str | None) -> str:
    """``hostname/node-id-prefix``: readable, and still distinct when containers share a hostname."""
    host = socket.gethostname()
    return f"{host}/{node_id[:12]}" if node_id else host


def _uuid_of(gpu_id: Any) -> str | None:
    """The UUID of the GPU Ray granted (``ray.get_gpu_ids()`` gives indices as the node sees them, or UUIDs)."""
    text = str(gpu_id)
    if text.startswith(("GPU-", "MIG-")):
        return text
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return str(pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(int(text))))
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # a fake GPU resource or a node without NVML: the meter's own UUID (if any) stays
        return None


def stamp_provenance(result: TaskResult, node: str, gpu_uuid: str | None) -> TaskResult:
    """Name the node (and, where the meter did not, the GPU UUID) on the summary and every row.

    Args:
        result: The task's result.
        node: ``hostname/node-id`` of the Ray node it ran on.
        gpu_uuid: UUID of the GPU Ray granted, or None (CPU task, fake GPU resource).

    Returns:
        The same result, with ``summary.node`` set and missing ``gpu_uuid`` filled in.
    """
    if result.summary is not None:
        result.summary = replace(result.summary, node=node, gpu_uuid=result.summary.gpu_uuid or gpu_uuid)
    if gpu_uuid is not None:
        result.measurements = [m if m.gpu_uuid else replace(m, gpu_uuid=gpu_uuid) for m in result.measurements]
    return result


# ------------------------------------------------------------------------------------------ inside Ray


class _Channel:
    """Driver <-> tasks: event mailbox and stop level (0 = run, 1 = finish current batch, 2 = kill)."""

    def __init__(self) -> None:
        self._events: list[tuple[int, Any, dict[str, Any]]] = []
        self._stop = 0

    def post(self, token: int, device: Any, events: list[dict[str, Any]]) -> int:
        self._events.extend((token, device, ev) for ev in events)
        return self._stop

    def drain(self) -> list[tuple[int, Any, dict[str, Any]]]:
        out, self._events = self._events, []
        return out

    def set_stop(self, level: int) -> None:
        self._stop = max(self._stop, level)


def _ray_task(task: Task, token: int, channel: Any, runner: Callable[..., TaskResult]) -> TaskResult:
    """Body of one Ray task: run ``runner`` on the granted device, relaying events and stop requests."""
    import ray

    ctx = ray.get_runtime_context()
    node_id = ctx.get_node_id()
    gpu_ids = list(ray.get_gpu_ids())
    node = _node_label(node_id)
    # The progress line of this task: host and GPU; CPU tasks share the "cpu" line, as locally.
    device = f"{socket.gethostname()}:{gpu_ids[0]}" if gpu_ids else None
    pending: list[dict[str, Any]] = [{"type": "task_start", "node_id": node_id, "node": node, "gpu_ids": gpu_ids}]
    lock = threading.Lock()
    stop, kill = threading.Event(), threading.Event()
    box: dict[str, Any] = {}

    def on_event(ev: dict[str, Any]) -> None:
        with lock:
            pending.append(ev)

    def work() -> None:
        try:
            # device None: the subprocess inherits the CUDA_VISIBLE_DEVICES that Ray set for this GPU.
            box["result"] = runner(task, None, on_event=on_event, stop=stop, kill=kill)
        except BaseException as e:  # reaches the driver as a RayTaskError with this traceback
            box["error"] = e

    th = threading.Thread(target=work, name="joulebench-ray-task", daemon=True)
    th.start()
    try:
        while True:
            finished = not th.is_alive()
            with lock:
                batch, pending[:] = list(pending), []
            if batch or not finished:
                try:
                    level = ray.get(channel.post.remote(token, device, batch), timeout=10)
                except Exception:  # the driver's channel is gone or slow: keep measuring, events are cosmetic
                    level = 0
                if level >= 1:
                    stop.set()
                if level >= 2:
                    kill.set()
            if finished:
                break
            th.join(POLL_S)
    except KeyboardInterrupt:  # ray.cancel(): never leave the worker subprocess running on a GPU Ray thinks free
        kill.set()
        th.join(60)
        raise
    if "error" in box:
        raise box["error"]
    gpu_uuid = _uuid_of(gpu_ids[0]) if gpu_ids else None
    return stamp_provenance(box["result"], node, gpu_uuid)
