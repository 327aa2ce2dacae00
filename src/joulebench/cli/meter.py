"""``joulebench meter -- COMMAND...``: energy, time and average power of any command.

The command runs in its own process, so the window's device sync is a no-op; with ``--align`` (the
default) both edges wait for an energy-counter update, which removes the counter's ~100 ms
quantisation at the cost of up to one update period of idle tail in the window. The command's exit
code is passed through; the energy is reported either way.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import typer

from joulebench.cli.display import console, emit_json, err_console
from joulebench.cli.options import DbOpt, JsonOpt, db_path, writable_file


def _noop() -> None:
    """The measured work runs in another process: there is nothing to synchronise here."""


def parse_devices(text: str | None) -> list[int] | None:
    """``"0,1"`` -> ``[0, 1]``; None or ``""`` -> None (the meter's default).

    Raises:
        ConfigError: Not a comma-separated list of non-negative integers.
    """
    from joulebench.errors import ConfigError

    if text is None or not text.strip():
        return None
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"cannot read --device '{text}': write device indices like 0 or 0,1") from None
    if any(d < 0 for d in out):
        raise ConfigError(f"--device '{text}': indices are non-negative (0, 1, ...)")
    return out


def resolve_command(argv: list[str]) -> str | None:
    """Path of the program ``argv[0]``, or None when it does not exist or is not executable."""
    prog = argv[0]
    if os.sep in prog or (os.altsep and os.altsep in prog):
        return prog if os.path.isfile(prog) and os.access(prog, os.X_OK) else None
    return shutil.which(prog)


def run_command(argv: list[str], quiet_stdout: bool) -> int:
    """Run ``argv`` to completion and return its exit code (128+N when killed by signal N)."""
    out = None
    if quiet_stdout:  # keep stdout for our JSON: the command's output goes to stderr
        try:
            out = sys.stderr.fileno()
        except (AttributeError, OSError, ValueError):  # stderr replaced by an in-memory stream (tests, notebooks)
            out = sys.__stderr__.fileno() if sys.__stderr__ is not None else subprocess.DEVNULL
    proc = subprocess.Popen(argv, stdout=out)
    while True:
        try:
            rc = proc.wait()
            break
        except KeyboardInterrupt:
            continue  # the terminal sent SIGINT to the child too: wait for it to finish, then report
    return 128 - rc if rc < 0 else rc


def write_trace(path: Path, meter: str, result: Any) -> None:
    """Write the window's samples as CSV (one row per sample; the meter's name on every row)."""
    from joulebench.meters.base import Sample

    names = [f.name for f in dataclasses.fields(Sample)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["meter", *names])
        for s in result.trace:
            w.writerow([meter, *("" if getattr(s, n) is None else getattr(s, n) for n in names)])


def _show(report: dict[str, Any], result: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from joulebench.units import fmt_energy, fmt_power, fmt_time

    con = console()
    if result.is_simulated:
        con.print("[bold white on red] SIMULATED [/] [bold red]meter 'sim': these numbers are not a measurement[/]")
    t = Table(title=f"joulebench meter ({result.meter})", show_header=False)
    t.add_row("command", escape(report["command"]))
    t.add_row("exit code", str(report["exit_code"]))
    how = f"{result.meter} / {result.method}" + (" (counter-aligned edges)" if result.aligned else "")
    t.add_row("meter / method", ("SIMULATED: " if result.is_simulated else "") + how)
    t.add_row("duration", fmt_time(result.duration_s))
    t.add_row("energy", f"[bold]{fmt_energy(result.energy_j)}[/]")
    t.add_row("average power", fmt_power(result.avg_power_w))
    if result.idle_power_w is not None:
        t.add_row("idle power", f"{fmt_power(result.idle_power_w)} (baseline over {fmt_time(report['idle_s'])})")
        t.add_row("energy above idle", fmt_energy(result.dynamic_energy_j))
    else:
        t.add_row("idle power", "not measured (--idle 0)")
    if result.counter_energy_j is not None and result.sampled_energy_j is not None:
        ratio = result.sampled_energy_j / result.counter_energy_j if result.counter_energy_j else float("nan")
        both = f"{fmt_energy(result.counter_energy_j)} vs {fmt_energy(result.sampled_energy_j)}"
        t.add_row("counter vs sampled", f"{both} (sampled/counter {ratio:.3f})")
    if len(result.devices) > 1:
        for d in result.devices:
            t.add_row(f"device {d.device}", f"{fmt_energy(d.energy_j)} ({d.method}) {d.uuid or ''}")
    ts = result.trace_summary()
    if ts.get("samples"):
        bits = [f"{ts['samples']} samples"]
        if "sample_rate_hz" in ts:
            bits.append(f"{ts['sample_rate_hz']:.0f} Hz")
        if "temperature_c_max" in ts:
            bits.append(f"max {ts['temperature_c_max']:.0f} °C")
        if ts.get("throttle_reasons"):
            bits.append(f"throttle reasons 0x{ts['throttle_reasons']:x}")
        t.add_row("trace", ", ".join(bits))
    con.print(t)
    for note in result.notes:
        con.print(f"[yellow]note:[/] {escape(note)}")


def _save(db: Path | None, report: dict[str, Any], result: Any, provenance: dict[str, Any]) -> int:
    from joulebench.store import RunRecord, Store

    run = RunRecord(
        run_id=uuid.uuid4().hex,
        started_at=_dt.datetime.fromtimestamp(result.started_at, _dt.timezone.utc).isoformat(timespec="seconds"),
        meter=result.meter,
        command="joulebench meter -- " + report["command"],
        provenance=provenance,
        config={k: report[k] for k in ("align", "idle_s", "devices")},
    )
    store = Store(db_path(db))
    try:
        return store.save_window(run, report["command"], result, exit_code=report["exit_code"])
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()


def _window(meter: str, devices: list[int] | None, align: bool, idle_s: float, argv: list[str], quiet: bool):
    """Run ``argv`` inside one measurement window: its exit code, the window's result and the provenance."""
    from joulebench.meters import get_meter
    from joulebench.provenance import collect_provenance

    m = get_meter(meter, devices=devices, sync=_noop, align=align)
    try:
        if idle_s > 0:
            if not quiet:
                err_console().print(f"measuring the idle baseline for {idle_s:g} s ...")
            m.measure_idle(idle_s)
        w = m.begin_window()
        try:
            rc = run_command(argv, quiet_stdout=quiet)
        except BaseException:
            w.abort()
            raise
        result = w.end()
        return rc, result, collect_provenance(m)
    finally:
        m.close()


def meter(
    command: list[str] = typer.Argument(None, metavar="-- COMMAND...", help="The command to measure, after --."),
    meter: str = typer.Option("auto", "--meter", "-m", help="Meter: nvml (auto on NVIDIA), smi, rapl, sim."),
    device: str = typer.Option(None, "--device", help="Devices to measure, e.g. 0 or 0,1 (default: all visible)."),
    align: bool = typer.Option(True, "--align/--no-align", help="Align both edges to energy-counter updates."),
    idle: str = typer.Option("2s", "--idle", help="Idle baseline measured before the command (0 = skip)."),
    json_out: bool = JsonOpt,
    trace: Path = typer.Option(None, "--trace", help="Write the sampled trace to this CSV file."),
    db: Path = DbOpt,
    save: bool = typer.Option(False, "--save", help="Save the window to the results database."),
) -> None:
    """Measure the energy, time and average power of any command; its exit code is passed through.

    Example: joulebench meter --meter nvml -- python infer.py --batch 64
    """
    from joulebench.errors import ConfigError
    from joulebench.units import parse_time_s

    argv = list(command or [])
    if not argv:
        raise ConfigError("give the command to measure after --, e.g. `joulebench meter -- python infer.py`")
    if resolve_command(argv) is None:
        typer.echo(f"error: command not found: {argv[0]}", err=True)
        sys.exit(127)
    idle_s = parse_time_s(idle)
    if idle_s < 0:
        raise ConfigError(f"--idle {idle}: the idle baseline cannot be negative")
    devices = parse_devices(device)
    if trace is not None:  # before the command runs: its measurement must not be lost to a bad path
        writable_file(trace, "--trace", make_folder=True)
    rc, result, provenance = _window(meter, devices, align, idle_s, argv, json_out)
    report: dict[str, Any] = {
        "command": shlex.join(argv),
        "exit_code": rc,
        "align": align,
        "idle_s": idle_s,
        "devices": devices,
    }
    if trace is not None:
        write_trace(Path(trace), result.meter, result)
    window_id = _save(db, report, result, provenance) if save else None
    if json_out:
        emit_json(
            {
                **report,
                "simulated": result.is_simulated,
                "result": result.to_dict(),
                "provenance": provenance,
                "saved_window_id": window_id,
                "trace_file": str(trace) if trace is not None else None,
            }
        )
    else:
        _show(report, result)
        if window_id is not None:
            console().print(f"saved as window {window_id} in {db_path(db)}")
        if trace is not None:
            console().print(f"trace written to {trace}")
    if rc != 0:
        # sys.exit, not typer.Exit: the CLI's entry point runs click with standalone_mode=False,
        # which would turn typer.Exit into a return value and lose the code.
        sys.exit(rc)


def register(app: typer.Typer) -> None:
    """Add ``joulebench meter`` to the CLI."""
    app.command("meter", context_settings={"allow_interspersed_args": False})(meter)
