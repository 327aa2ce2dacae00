"""The sweep engine: for each (model configuration, runtime), search the batch size of least energy per image.

Layers (each usable alone)::

    search.py     which batch sizes to measure (``scan``, ``plateau``, ``paper``), pure logic over measure()
    protocol.py   how one batch is measured (warm-up, window, sub-windows, precision) -> BatchMeasurement
    summary.py    BatchMeasurements -> ModelSummary (optimal batch, batch 1, latency budget...)
    execution.py  one task measured in this process (idle baseline, batch search, summary)
    process.py    one task in a fresh worker subprocess (crash/hang/OOM isolation, timeout, Ctrl-C)
    executors.py  who runs the tasks (``local``: one thread per GPU; ``ray``: a cluster, ray_executor.py)
    ray_task.py   inside each Ray task of the ``ray`` executor: the run, its events and stop requests
    progress.py   the rich progress display
    tasks.py      the pure data: SweepOptions, Task, TaskResult

Task API (what an executor such as a future Ray executor builds on)
    ``Task`` (``tasks.py``): a frozen dataclass holding the model spec's fields (``spec`` dict), the runtime
    name, runtime options, the protocol (``SweepOptions``), the ``run_id`` and a timeout. Pure data:
    picklable and JSON round-trippable (``Task.to_dict`` / ``Task.from_dict``).

    ``run_task(task, device_index, *, on_event=None, stop=None, kill=None) -> TaskResult`` (``process.py``,
    re-exported by ``executors.py``): runs the task in a fresh ``python -m joulebench.sweep.worker``
    subprocess pinned with ``CUDA_VISIBLE_DEVICES=device_index`` and bounded by ``task.timeout_s``. It ALWAYS
    returns a ``TaskResult(task, measurements, summary, failures, interrupted, gpu_seconds)``: a crash, a hang
    or an out-of-memory cascade becomes a ``Failure`` row (stage ``worker``/``timeout``, or ``crash`` with the
    batch the worker died at) plus a summary with status ``failed``, keeping the batches measured before it.
    ``stop`` (an Event) asks the worker to finish its current batch and return (``interrupted=True``); ``kill``
    kills it.

    Executors (``EXECUTORS`` registry, ``Executor.run(tasks, sink, on_event=, stop=)``) call
    ``sink(result)`` on the driver thread; the driver alone writes the store
    (``Store.save_task(measurements, summary, failures)``, one transaction per task).

Driver (``plan.py``, ``driver.py``, ``resume.py``, ``deadline.py``)
    :func:`prepare_sweep` validates everything (options, models, runtimes, meter, devices) and writes nothing;
    :func:`run_sweep` records the run, skips finished work (``Store.finished_results``) unless ``force``, runs the
    tasks and saves each finished one. An interrupted task has no summary; its batches, stored as they were
    measured, are where a re-run resumes. With a deadline it starts only tasks expected to finish in time
    (:class:`TaskCosts`) and stops the rest at it. A task whose worker crashed at some batch in an earlier run
    (``Store.crash_ceilings``) searches only up to the largest batch that worked below it; within a run the
    executor retries such a crash at once.
"""

from joulebench.sweep.deadline import DEADLINE_GRACE_S, TaskCosts
from joulebench.sweep.driver import run_sweep
from joulebench.sweep.plan import SweepPlan, SweepReport, collect, other_gpu_processes, prepare_sweep
from joulebench.sweep.tasks import SweepOptions, Task, TaskResult

__all__ = [
    "DEADLINE_GRACE_S",
    "SweepOptions",
    "SweepPlan",
    "SweepReport",
    "Task",
    "TaskCosts",
    "TaskResult",
    "collect",
    "other_gpu_processes",
    "prepare_sweep",
    "run_sweep",
]
