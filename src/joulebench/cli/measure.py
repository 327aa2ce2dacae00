"""``joulebench measure``: sweep batch sizes for models x runtimes and store energy per image."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import typer

from joulebench.cli.display import emit_json, err_console, print_table
from joulebench.cli.options import DbOpt, JsonOpt, MinChangeOpt, WideOpt, db_path, parse_min_change
from joulebench.errors import ConfigError
from joulebench.store.records import QUICK_PROTOCOL


def _time(flag: str, text: str | None) -> float | None:
    from joulebench.units import parse_time_s

    if text is None:
        return None
    try:
        return parse_time_s(text)
    except ConfigError as e:
        raise ConfigError(f"{flag}: {e}") from None


def _instant(flag: str, text: str | None) -> str | None:
    """An ISO 8601 time (UTC when it names no zone) as the store writes times: UTC, seconds."""
    from datetime import datetime, timezone

    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{flag} takes an ISO 8601 time, e.g. 2026-11-29T02:10 (UTC) (got '{text}')") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="seconds")


def _gpus(text: str | None) -> list[int] | None:
    if text is None or not text.strip():
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--gpus takes comma-separated GPU indices, e.g. 0,1,2,3 (got '{text}')") from None


def _flag_time(flag: str, text: str | None) -> float | None:
    """A time flag in seconds; None when the flag was not given (the protocol's value stands)."""
    return None if text is None else _time(flag, text) or 0.0


def build_options(
    *,
    meter: str,
    search: str | None,
    tf32: str | None,
    cuda_graphs: bool,
    warmup: str | None,
    min_iters: int | None,
    min_window: str | None,
    precision: str | None,
    max_window: str | None,
    cooldown: str,
    idle: str | None,
    max_batch: int | None,
    latency_budget: str | None,
    start_batch: int = 1,
    static_scouts: bool = False,
    scan_margin: str | None = None,
    scan_finalists: int | None = None,
    protocol: str = "default",
) -> Any:
    """Parse the protocol flags into validated :class:`~joulebench.sweep.tasks.SweepOptions`.

    Flags left at None keep the value of the named ``protocol`` (``default``, ``paper`` or ``quick``).

    Raises:
        ConfigError: A flag cannot be read or is out of range.
    """
    from joulebench.sweep.tasks import protocol_options
    from joulebench.units import is_temperature, parse_percent, parse_temperature_c

    budget = None if latency_budget in (None, "", "none", "off") else _time("--latency-budget", latency_budget)
    to_c = parse_temperature_c(cooldown) if is_temperature(cooldown) else None
    precision_set = precision is not None and precision not in ("", "off")
    overrides: dict[str, Any] = {
        "search": search,
        "warmup_s": _flag_time("--warmup", warmup),
        "min_iters": min_iters,
        "min_window_s": _flag_time("--min-window", min_window),
        "precision": parse_percent(precision) if precision_set else None,
        "max_window_s": _flag_time("--max-window", max_window),
        "idle_s": _flag_time("--idle", idle),
        "scan_margin": None if scan_margin is None else parse_percent(scan_margin),
        "scan_finalists": scan_finalists,
    }
    opts = protocol_options(
        protocol,
        meter=meter,
        cooldown_s=0.0 if to_c is not None else _time("--cooldown", cooldown) or 0.0,
        cooldown_to_c=to_c,
        max_batch=max_batch,
        start_batch=start_batch,
        latency_budget_s=budget,
        tf32=tf32,
        cuda_graphs=cuda_graphs,
        static_scouts=static_scouts,
        **overrides,
    )
    if precision in ("", "off"):  # "--precision off": fixed-length windows
        opts = dataclasses.replace(opts, precision=None)
    if overrides["min_window_s"] is not None and overrides["max_window_s"] is None and opts.max_window_s is not None:
        # a longer --min-window than the protocol's longest window moves that limit with it
        opts = dataclasses.replace(opts, max_window_s=max(opts.max_window_s, opts.min_window_s))
    opts.validate()
    return opts


def _table(summaries: list[Any], wide: bool) -> None:
    from rich.table import Table

    from joulebench.units import fmt_energy, fmt_power, fmt_time

    t = Table(title="joulebench measure")
    for col in ("model", "img", "runtime", "status", "best batch", "energy/img", "above idle", "img/s", "p95", "power"):
        t.add_column(col, justify="right" if col not in ("model", "runtime", "status") else "left")
    for s in summaries:
        t.add_row(
            s.model,
            str(s.img_size),
            s.runtime,
            s.status if s.status == "ok" else f"failed: {_short(s.error)}",
            str(s.optimal_batch or "–"),
            fmt_energy(s.energy_per_image_j),
            fmt_energy(s.dynamic_energy_per_image_j),
            "–" if s.throughput_ips is None else f"{s.throughput_ips:,.0f}",
            fmt_time(s.latency_p95_s),
            fmt_power(s.avg_power_w),
        )
    print_table(t, ("model", "img", "runtime", "status", "energy/img"), wide)


def _short(error: str | None) -> str:
    """An error as a table cell: its first 40 characters (``joulebench results --failures`` has it whole)."""
    text = error or ""
    return text if len(text) <= 40 else text[:37] + "..."


# The flags, declared apart so that the command's signature reads as the list of what it takes.
ModelsArg = typer.Argument(..., help="Models: timm names or arch.tag, globs, or module:factory.")
RuntimeOpt = typer.Option(..., "--runtime", "-r", help="Runtime(s): torch-fp32, compile-fp16, ...")
MeterOpt = typer.Option("nvml", "--meter", help="Energy source: nvml, smi, sim (simulated) or rapl.")
GpusOpt = typer.Option(None, "--gpus", help="GPUs to spread the models over, e.g. 0,1,2,3.")
ProtocolOpt = typer.Option(
    "default",
    "--protocol",
    help="default (scan search, 3-10 s windows to a 1% CI), paper (10 s windows) or quick (0.3 s windows, for a try).",
)
QuickOpt = typer.Option(
    False, "--quick", help="--protocol quick: a try in seconds (results labelled quick, not comparable)."
)
SearchOpt = typer.Option(None, "--search", help="Batch search: scan (default), plateau or paper.")
ImgSizeOpt = typer.Option(None, "--img-size", min=1, help="Input side override (pixels).")
PretrainedOnlyOpt = typer.Option(False, "--pretrained-only", help="Globs expand to pretrained tags.")
WeightsOpt = typer.Option(None, "--weights", help="Local weights file (one model only).")
InputShapeOpt = typer.Option(None, "--input-shape", help="Per-sample C,H,W, e.g. 3,224,224.")
Tf32Opt = typer.Option(None, "--tf32", help="on/off: TF32 for FP32 runtimes (default: runtime's).")
CudaGraphsOpt = typer.Option(False, "--cuda-graphs", help="Replay the model as a CUDA graph.")
StaticScoutsOpt = typer.Option(
    False, "--static-scouts", help="compile-*: compile each scouted batch statically (default: one dynamic)."
)
ScanMarginOpt = typer.Option(
    None,
    "--scan-margin",
    help="Scan search: a finalist's scout may read this much above the best one (8%; 6% in search revisions 4 and"
    " 5, 4% before, whose results resume with --scan-margin 6% --scan-finalists 2 and --scan-margin 4%"
    " --scan-finalists 2).",
)
ScanFinalistsOpt = typer.Option(
    None,
    "--scan-finalists",
    help="Scan search: the most scouted batches confirmed with full windows, from different parts of the curve"
    " (3; 2 before search revision 6).",
)
WarmupOpt = typer.Option(
    None,
    "--warmup",
    help="Warm-up before each full window (1s; paper 3s); each scout after a model's first warms up a fifth of it.",
)
MinItersOpt = typer.Option(None, "--min-iters", help="Iterations per window at least (5; paper 13).")
MinWindowOpt = typer.Option(None, "--min-window", help="Window length at least (3s; paper 10s).")
PrecisionOpt = typer.Option(
    None, "--precision", help="Extend windows until the 95% CI is +-this (1%; 'off' for fixed windows)."
)
MaxWindowOpt = typer.Option(None, "--max-window", help="Longest window for --precision (10s).")
CooldownOpt = typer.Option(
    "0s",
    "--cooldown",
    help="Between batches: a pause (5s), or a GPU temperature to wait for (45C; also before each model's idle"
    " baseline; 5 min at most).",
)
IdleOpt = typer.Option(None, "--idle", help="Idle-baseline measurement before each model.")
MaxBatchOpt = typer.Option(None, "--max-batch", help="Largest batch to try.")
StartBatchOpt = typer.Option(1, "--start-batch", help="First batch of the search (batch 1 is still measured).")
LatencyBudgetOpt = typer.Option(
    "50ms", "--latency-budget", help="Per-batch p95 budget for the summary ('off' to skip)."
)
TimeoutOpt = typer.Option("30min", "--timeout", help="Wall-clock limit per model and runtime.")
DeadlineOpt = typer.Option(
    None,
    "--deadline",
    help="End the sweep within this time (e.g. 55min, a batch job's limit): start only models expected to"
    " finish in time, stop the rest at it (killed 10 s later if still running); a re-run does what is left.",
)
ForceOpt = typer.Option(False, "--force", help="Measure again what this protocol already measured.")
RedoBeforeOpt = typer.Option(
    None,
    "--redo-before",
    help="Measure again what finished before this time (ISO 8601, UTC unless it names a zone), e.g. after a"
    " protocol fix; results since then count as done, so the same command resumes.",
)
RedoStaleOpt = typer.Option(
    False,
    "--redo-stale",
    help="Also measure again the results whose stored batch search the current rule would have continued"
    " (measured under an older rule); once measured again they count as done.",
)
PerBoardOpt = typer.Option(
    False, "--per-board", help="Resume only what these boards measured (default: any GPU of the same model)."
)
ExclusiveOpt = typer.Option(False, "--exclusive", help="Refuse to start if other processes use the GPU.")
ExecutorOpt = typer.Option(
    "local", "--executor", help="Who runs the tasks: local (this machine's --gpus) or ray (a Ray cluster)."
)
AddressOpt = typer.Option(
    None, "--address", help="--executor ray: auto, HOST:6379 or ray://HOST:10001 (default $RAY_ADDRESS)."
)
RetriesOpt = typer.Option(
    None, "--retries", help="--executor ray: run a task whose worker died again up to N times (2)."
)
WorkerStartOpt = typer.Option(
    None,
    "--worker-start",
    help="--executor local: auto (default: as the runtime asks, fresh for compiled runtimes, else fork), fork"
    " (workers forked from one process that imported torch and timm once; Linux) or fresh (a new Python process per"
    " model, which imports them itself).",
)

#: The flags of :func:`build_options` (the measuring protocol), by their parameter names.
PROTOCOL_FLAGS = ("protocol", "meter", "search", "tf32", "cuda_graphs", "warmup", "min_iters", "min_window",
                  "precision", "max_window", "cooldown", "idle", "max_batch", "latency_budget", "start_batch",
                  "static_scouts", "scan_margin", "scan_finalists")  # fmt: skip


#: ``measure --help``: the docstring, and how two sweeps on one results file share the work.
MEASURE_HELP = (
    "Find each model's most energy-efficient batch size on each runtime and store the measurements.\n\n"
    "Two sweeps can share one results file: each model/runtime pair is claimed as it starts, and a sweep skips"
    " (without waiting) the pairs another running sweep has claimed, naming it; run the same command again after"
    " that sweep finishes to measure what it left."
)


def measure(
    ctx: typer.Context,
    models: list[str] = ModelsArg,
    runtime: list[str] = RuntimeOpt,
    meter: str = MeterOpt,
    db: Path | None = DbOpt,
    gpus: str | None = GpusOpt,
    protocol: str = ProtocolOpt,
    quick: bool = QuickOpt,
    search: str | None = SearchOpt,
    img_size: int | None = ImgSizeOpt,
    pretrained_only: bool = PretrainedOnlyOpt,
    weights: str | None = WeightsOpt,
    input_shape: str | None = InputShapeOpt,
    tf32: str | None = Tf32Opt,
    cuda_graphs: bool = CudaGraphsOpt,
    static_scouts: bool = StaticScoutsOpt,
    scan_margin: str | None = ScanMarginOpt,
    scan_finalists: int | None = ScanFinalistsOpt,
    warmup: str | None = WarmupOpt,
    min_iters: int | None = MinItersOpt,
    min_window: str | None = MinWindowOpt,
    precision: str | None = PrecisionOpt,
    max_window: str | None = MaxWindowOpt,
    cooldown: str = CooldownOpt,
    idle: str | None = IdleOpt,
    max_batch: int | None = MaxBatchOpt,
    start_batch: int = StartBatchOpt,
    latency_budget: str | None = LatencyBudgetOpt,
    timeout: str = TimeoutOpt,
    deadline: str | None = DeadlineOpt,
    force: bool = ForceOpt,
    redo_before: str | None = RedoBeforeOpt,
    redo_stale: bool = RedoStaleOpt,
    min_change: str | None = MinChangeOpt,
    per_board: bool = PerBoardOpt,
    exclusive: bool = ExclusiveOpt,
    executor: str = ExecutorOpt,
    address: str | None = AddressOpt,
    retries: int | None = RetriesOpt,
    worker_start: str | None = WorkerStartOpt,
    json_out: bool = JsonOpt,
    wide: bool = WideOpt,
) -> None:
    """Find each model's most energy-efficient batch size on each runtime and store the measurements."""
    from joulebench.sweep import prepare_sweep, run_sweep
    from joulebench.sweep.driver import TerminateAsInterrupt
    from joulebench.sweep.progress import make_progress

    opts = _protocol_options(ctx, protocol, quick, json_out)
    timeout_s, deadline_s = _time("--timeout", timeout), _time("--deadline", deadline)
    redo = _redo(force, redo_before, redo_stale, min_change)
    plan = prepare_sweep(
        models,
        runtime,
        opts,
        gpus=_gpus(gpus),
        pretrained_only=pretrained_only,
        img_size=img_size,
        input_shape=input_shape,
        weights=_weights_file(weights),
        timeout_s=timeout_s,
        exclusive=exclusive,
        executor=executor,
        per_board=per_board,
    )
    ex_opts = _executor_options(executor, {"address": address, "retries": retries, "worker_start": worker_start})
    with TerminateAsInterrupt() as term:
        report = run_sweep(
            plan,
            db_path(db),
            **redo,
            progress=make_progress(quiet=json_out),
            executor=executor,
            executor_options=ex_opts,
            deadline_s=deadline_s,
        )
    _finish(report, db, json_out, wide, terminated=term.received)


def _protocol_options(ctx: typer.Context, protocol: str, quick: bool, json_out: bool) -> Any:
    """The protocol flags' options (``--quick`` is ``--protocol quick``, and says what its results are)."""
    if quick and protocol not in ("default", QUICK_PROTOCOL):
        raise ConfigError(f"--quick is --protocol quick: give one of --quick and --protocol {protocol}")
    opts = build_options(
        **{**{k: ctx.params[k] for k in PROTOCOL_FLAGS}, "protocol": QUICK_PROTOCOL if quick else protocol}
    )
    if opts.protocol == QUICK_PROTOCOL and not json_out:
        err_console().print(
            "quick protocol: short windows for a try, labelled 'quick' in every listing; measure again without --quick"
            " for results comparable with the default protocol's"
        )
    return opts


def _weights_file(weights: str | None) -> str | None:
    """``--weights``, refused when it names no file."""
    if weights is not None and not Path(weights).is_file():
        raise ConfigError(f"--weights {weights}: no such file")
    return weights


def _redo(force: bool, redo_before: str | None, redo_stale: bool, min_change: str | None) -> dict[str, Any]:
    """``run_sweep``'s arguments of what to measure again, refusing ``--redo-*`` beside ``--force``.

    ``--redo-before``'s time becomes the store's form of times; ``--min-change`` a fraction.
    """
    redo_since = _instant("--redo-before", redo_before)
    if force and redo_since is not None:
        raise ConfigError("--force redoes everything; --redo-before only what finished before its time: give one")
    if force and redo_stale:
        raise ConfigError("--force redoes everything; --redo-stale only the results measured under an older rule")
    return {
        "force": force,
        "redo_before": redo_since,
        "redo_stale": redo_stale,
        "stale_min_change": parse_min_change(min_change, "--redo-stale", redo_stale),
    }


def _executor_options(executor: str, given: dict[str, Any]) -> dict[str, Any]:
    """The executor's own flags that were given (``given``: by parameter name), refusing those it does not take."""
    from joulebench.sweep.executors import check_worker_start, executor_class

    ex_opts = {k: v for k, v in given.items() if v is not None}
    if "worker_start" in ex_opts:
        check_worker_start(ex_opts["worker_start"])
    foreign = sorted(set(ex_opts) - set(getattr(executor_class(executor), "OPTIONS", ())))
    if foreign:
        raise ConfigError(f"--executor {executor} takes no --{', --'.join(f.replace('_', '-') for f in foreign)}")
    return ex_opts


def _finish(report: Any, db: Path | None, json_out: bool, wide: bool, *, terminated: bool = False) -> None:
    """Print what the sweep did, and exit 130 when interrupted (143 by SIGTERM), 1 when every model failed."""
    summaries = report.summaries
    if json_out:
        emit_json(
            {
                "run_id": report.run_id,
                "db": str(db_path(db)),
                "interrupted": report.interrupted,
                "skipped": [list(k) for k in report.skipped],
                "stale": [[*k, nxt] for k, nxt in report.stale.items()],
                "deferred": [list(k) for k in report.deferred],
                "claimed_elsewhere": [list(k) for k in report.claimed_elsewhere],
                "deadline_reached": report.deadline_reached,
                "stopped": [list(k) for k in report.stopped],
                "summaries": [s.to_dict() for s in summaries],
            }
        )
    elif summaries:
        _table(summaries, wide)
    elif report.skipped and not report.claimed_elsewhere:
        err_console().print(
            "nothing to do: every model/runtime pair is already measured (use --force, --redo-before or --redo-stale)"
        )
    if report.interrupted:
        err_console().print(
            "interrupted: every measured batch is saved; run the same command again to resume"
            + (" (stopped by SIGTERM)" if terminated else "")
        )
        raise typer.Exit(143 if terminated else 130)
    if report.claimed_elsewhere:
        err_console().print(
            f"{len(report.claimed_elsewhere)} model/runtime pair(s) skipped: another sweep on this results file is"
            " measuring them; run the same command again after it finishes to measure what it leaves"
        )
    if report.deferred or report.deadline_reached:
        err_console().print(
            f"deadline: {len(report.deferred)} model/runtime pair(s) not started (expected to take longer than the"
            f" time left), {len(report.stopped)} stopped at the deadline (the batches they measured are kept);"
            " finished models are saved; run the same command again to do the rest"
        )
    if summaries and all(s.status != "ok" for s in summaries):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``joulebench measure`` to the CLI."""
    app.command("measure", help=MEASURE_HELP)(measure)
