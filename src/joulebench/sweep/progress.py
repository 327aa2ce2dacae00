"""Progress display of a sweep: models done of total, what each device is doing, ETA; a plain log without a terminal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from joulebench.sweep.summary import HOST_SLOW, host_slowdown, launch_bound, optimal
from joulebench.sweep.tasks import Task, TaskResult
from joulebench.units import fmt_energy


class Progress:
    """Base: a silent progress sink (``--json`` mode, library use)."""

    def start(self, total: int, skipped: int = 0) -> None:
        """The sweep begins with ``total`` tasks to run (``skipped`` already done)."""

    def event(self, device: Any, task: Task, ev: dict[str, Any]) -> None:
        """A worker's event (``task_start``, ``stage``, ``batch``, ``measurement``, ``failure``...)."""

    def finished(self, result: TaskResult) -> None:
        """A task's result was saved."""

    def message(self, text: str) -> None:
        """A warning or note for the user."""

    def stop(self) -> None:
        """The sweep ended."""


class QuietProgress(Progress):
    """Plain, timestamped lines on stderr: a log for ``--json`` runs, batch jobs and detached sweeps.

    One line when a task starts (and where) and one with its outcome, so a sweep's log says what is in flight and
    what each finished model cost while the run goes on; standard output stays free for the JSON report.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        """``clock`` returns the time stamped on each line (default: now, in UTC)."""
        self._now = clock or (lambda: datetime.now(timezone.utc))

    def _print(self, text: str) -> None:
        import sys

        print(f"{self._now().isoformat(timespec='seconds')} {text}", file=sys.stderr, flush=True)

    def start(self, total: int, skipped: int = 0) -> None:
        """Say what is skipped as already measured (the rest is logged task by task)."""
        if skipped:
            self.message(f"skipping {skipped} model/runtime pair(s) already measured ({SKIP_HINT})")

    def event(self, device: Any, task: Task, ev: dict[str, Any]) -> None:
        """Log a task's start."""
        if ev.get("type") == "task_start":
            retry = f" (retry, {ev['retry']})" if ev.get("retry") else ""
            self._print(f"start {_where(device)}{task.label()}{retry}")

    def finished(self, result: TaskResult) -> None:
        """Log a task's outcome and its cost in GPU-seconds."""
        cost = "" if result.gpu_seconds is None else f" ({result.gpu_seconds:.0f} GPU-s)"
        word, text, warning = _outcome(result, cost)
        self._print(f"{word} {text}" + (f" {warning}" if warning else ""))

    def message(self, text: str) -> None:
        """Print a warning or note on stderr (as it is: callers' lines are read by people and scripts)."""
        import sys

        print(text, file=sys.stderr, flush=True)


class RichProgress(Progress):
    """A rich progress bar on stderr: models done of total with ETA, one status line per device."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self._progress: Any = None
        self._bar: Any = None
        self._lines: dict[Any, Any] = {}

    def start(self, total: int, skipped: int = 0) -> None:
        """Start the display."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bars

        if skipped:
            self.console.print(f"skipping {skipped} model/runtime pair(s) already measured ({SKIP_HINT})")
        self._progress = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._bar = self._progress.add_task("models", total=total)

    def _line(self, device: Any) -> Any:
        if device not in self._lines:
            self._lines[device] = self._progress.add_task(f"  {_where(device)}starting", total=None)
        return self._lines[device]

    def event(self, device: Any, task: Task, ev: dict[str, Any]) -> None:
        """Update the device's status line."""
        if self._progress is None:
            return
        kind = ev.get("type")
        if kind == "task_start":
            text = f"{task.label()}: " + (f"retrying, {ev['retry']}" if ev.get("retry") else "starting worker")
        elif kind == "stage":
            text = f"{task.label()}: {ev.get('stage')}"
        elif kind == "batch":
            text = f"{task.label()}: batch {ev.get('batch')} ({ev.get('phase')})"
        elif kind == "measurement":
            row = ev.get("row") or {}
            status = row.get("status")
            shown = fmt_energy(row.get("energy_per_image_j")) + "/img" if status == "ok" else status
            text = f"{task.label()}: batch {row.get('batch_size')} -> {shown}"
        else:
            return
        self._progress.update(self._line(device), description=f"  {_where(device)}{text}")

    def finished(self, result: TaskResult) -> None:
        """Advance the bar and print a one-line outcome."""
        if self._progress is None:
            return
        word, text, warning = _outcome(result)
        line = f"[{_COLOURS[word]}]{word}[/] {text}" + (f" [yellow]{warning}[/]" if warning else "")
        self._progress.console.print(line)
        self._progress.advance(self._bar)

    def message(self, text: str) -> None:
        """Print a warning above the bars."""
        (self._progress.console if self._progress else self.console).print(text, markup=False)

    def stop(self) -> None:
        """Stop the display."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


SKIP_HINT = "use --force, or --redo-before TIME, to measure again"

_COLOURS = {"done": "green", "failed": "red", "interrupted": "yellow"}


def _outcome(result: TaskResult, cost: str = "") -> tuple[str, str, str]:
    """A finished task's outcome word, the rest of its line (``cost`` after the numbers) and a warning, if any."""
    s, label = result.summary, result.task.label()
    if result.interrupted:
        kept = len(result.measurements)
        then = (
            f"{kept} measured batch{'es' if kept > 1 else ''} kept; re-run to resume" if kept else "re-run to measure"
        )
        return "interrupted", f"{label}{cost}: no result yet, {then}", ""
    if s is not None and s.status == "ok":
        warnings = ["(the card throttled: see throttle_reasons)"] if s.throttled else []
        best = optimal(result.measurements)
        util = launch_bound(best) if best is not None else None
        if util is not None:
            slow = host_slowdown(best, result.measurements) or 0.0
            host = ""
            if slow > HOST_SLOW:
                host = f", which ran {100 * slow:.0f} % slower then than at its fastest in this task"
            warnings.append(
                f"(launch-bound: the card was busy {util:.0f} % of batch {best.batch_size}'s window, so its energy"
                f" per image depends on this host's CPU{host})"
            )
        text = f"{label}: batch {s.optimal_batch}, {fmt_energy(s.energy_per_image_j)}/img{cost}"
        return "done", text, " ".join(warnings)
    return "failed", f"{label}: {s.error if s else 'no result'}{cost}", ""


def _where(device: Any) -> str:
    # None is an unpinned worker (the runtime's default device, a GPU as often as the CPU): no label then.
    return "" if device is None else f"gpu {device}: "


def make_progress(quiet: bool, *, terminal: bool | None = None) -> Progress:
    """A rich display on a terminal; plain log lines on stderr for ``--json`` or when stderr is not a terminal.

    A live display written to a file or pipe (a batch job's log, ``2>log``) shows nothing until the sweep ends,
    so a log would not say which model is in flight; plain lines do.

    Args:
        quiet: ``--json``: standard output holds the report.
        terminal: Whether stderr is a terminal (default: ask it).
    """
    import sys

    if terminal is None:
        terminal = sys.stderr.isatty()
    return QuietProgress() if quiet or not terminal else RichProgress()


__all__ = ["Progress", "QuietProgress", "RichProgress", "make_progress"]
