"""``joulebench info``: the devices, meters and runtimes this machine offers, and what is missing and why."""

from __future__ import annotations

import importlib
from typing import Any

import typer

from joulebench.cli.display import console, emit_json
from joulebench.cli.options import JsonOpt


def _noop() -> None:
    """Probing meters must not touch CUDA."""


def probe_meters() -> list[dict[str, Any]]:
    """Try every registered meter here: ``name``, ``available``, ``detail`` (why not, or what it measures)."""
    from joulebench.errors import JoulebenchError
    from joulebench.meters import METERS, get_meter, meter_names

    out = []
    for name in meter_names():
        cls = METERS.get(name)
        row: dict[str, Any] = {"name": name, "simulated": bool(cls.simulated)}
        try:
            m = get_meter(name, sync=_noop)
        except JoulebenchError as e:
            row.update(available=False, detail=str(e))
        else:
            try:
                row.update(available=True, detail=_meter_detail(m))
            finally:
                m.close()
        out.append(row)
    return out


def _meter_detail(m: Any) -> str:
    if m.simulated:
        return "simulated numbers for trying joulebench without a GPU (never a measurement)"
    facts = m.describe()
    devs = facts.get("devices") or facts.get("packages") or []
    names = sorted({str(d.get("name")) for d in devs})
    what = f"{len(devs)} device(s): {', '.join(names)}" if devs else "no devices"
    if m.name == "nvml":
        n_counter = sum(1 for d in devs if d.get("counter"))
        what += f"; energy counter on {n_counter}/{len(devs)}"
        what += "" if n_counter == len(devs) else " (others use sampled power)"
    if facts.get("note"):
        what += f"; {facts['note']}"
    return what


def probe_runtimes() -> tuple[list[dict[str, Any]] | None, str | None]:
    """``([{name, available, detail}], None)``, or ``(None, why)`` when the runtimes package is absent."""
    try:
        rt = importlib.import_module("joulebench.runtimes")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("joulebench"):
            return None, "runtimes: not available in this build of joulebench"
        raise
    names = rt.runtime_names() if hasattr(rt, "runtime_names") else rt.RUNTIMES.names()
    out = []
    for name in names:
        try:
            ok, why = rt.RUNTIMES.get(name).available()
        except Exception as e:  # one broken runtime must not hide the others; report it
            ok, why = False, f"availability check failed: {type(e).__name__}: {e}"
        out.append({"name": name, "available": bool(ok), "detail": why})
    return out, None


def collect_info() -> dict[str, Any]:
    """Everything ``joulebench info`` shows, as a JSON-safe dict."""
    from joulebench.errors import MeterError
    from joulebench.meters.nvml import list_gpus
    from joulebench.provenance import collect_provenance

    info: dict[str, Any] = {}
    try:
        gpus = list_gpus()
        info["gpus"] = gpus.pop("gpus")
        info["driver"], info["cuda_driver"] = gpus.get("driver"), gpus.get("cuda_driver")
    except MeterError as e:
        info["gpus"], info["gpu_error"] = [], str(e)
    runtimes, why = probe_runtimes()  # before provenance: a runtime check may import torch, which knows its CUDA
    prov = collect_provenance(meter=None)
    info["host"] = {k: prov.get(k) for k in ("joulebench", "python", "os", "host", "cpu", "cpu_count", "date")}
    info["libraries"] = {k: prov.get(k) for k in ("torch", "timm", "cuda", "nvidia_ml_py")}
    info["meters"] = probe_meters()
    real = [m["name"] for m in info["meters"] if m["available"] and not m["simulated"]]
    info["default_meter"] = "nvml" if "nvml" in real else None
    info["runtimes"] = runtimes
    if why:
        info["runtimes_error"] = why
    missing = [f"meter {m['name']}: {m['detail']}" for m in info["meters"] if not m["available"]]
    missing += [f"runtime {r['name']}: {r['detail']}" for r in runtimes or [] if not r["available"]]
    if why:
        missing.append(why)
    info["missing"] = missing
    return info


def _show(info: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from joulebench.units import fmt_power

    con = console()
    host = Table(title="Host", show_header=False)
    for k, v in {**info["host"], **info["libraries"]}.items():
        host.add_row(k, "–" if v is None else str(v))
    host.add_row("driver", str(info.get("driver") or "–"))
    host.add_row("cuda driver", str(info.get("cuda_driver") or "–"))
    con.print(host)

    if info["gpus"]:
        t = Table(title="GPUs (NVML)")
        for c in ("#", "name", "uuid", "memory", "power limit", "default limit", "MIG"):
            t.add_column(c)
        for g in info["gpus"]:
            mem = g.get("memory_b")
            t.add_row(
                str(g["nvml_index"]),
                str(g.get("name")),
                str(g.get("uuid")),
                "–" if mem is None else f"{mem / 2**30:.0f} GiB",
                fmt_power(g.get("power_limit_w")),
                fmt_power(g.get("default_power_limit_w")),
                "on" if g.get("mig") else "off",
            )
        con.print(t)
    else:
        con.print(f"[yellow]GPUs: none found[/] ({escape(info.get('gpu_error', 'NVML lists no GPU'))})")

    t = Table(title="Meters")
    for c in ("meter", "works here", "detail"):
        t.add_column(c)
    for m in info["meters"]:
        mark = "[green]yes[/]" if m["available"] else "[red]no[/]"
        if m["simulated"]:
            mark += " [bold magenta](SIMULATED)[/]"
        t.add_row(m["name"], mark, escape(m["detail"]))
    con.print(t)
    con.print(
        f"default meter (--meter auto): {info['default_meter'] or 'none here (use --meter sim to try joulebench)'}"
    )

    if info["runtimes"] is None:
        con.print(f"[yellow]{escape(info.get('runtimes_error', 'runtimes: not available'))}[/]")
    else:
        t = Table(title="Runtimes")
        for c in ("runtime", "works here", "detail"):
            t.add_column(c)
        for r in info["runtimes"]:
            t.add_row(r["name"], "[green]yes[/]" if r["available"] else "[red]no[/]", escape(r["detail"]))
        con.print(t)

    if info["missing"]:
        con.print("[bold]Missing, and why:[/]")
        for line in info["missing"]:
            con.print(f"  - {line}", markup=False, highlight=False)


def info(json_out: bool = JsonOpt) -> None:
    """Show GPUs, meters and runtimes that work here, and what is missing and why."""
    found = collect_info()
    if json_out:
        emit_json(found)
    else:
        _show(found)


def register(app: typer.Typer) -> None:
    """Add ``joulebench info`` to the CLI."""
    app.command("info")(info)
