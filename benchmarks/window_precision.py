"""Does a window's confidence interval say how far its energy per image can be from a repeat's?

``run`` (on a GPU) -- for each ``MODEL:RUNTIME:BATCH`` measures the same batch in windows of each ``--lengths``
(seconds, fixed: no precision extension), ``--repeats`` times, the lengths interleaved so that the card's thermal
drift falls on all of them alike. Every window is appended at once to ``windows.jsonl`` under ``--state`` (copied
to ``$OUT``) with its raw counter marks and iteration completion times, so that interval estimators can be compared
offline on the same data.

``report`` -- per configuration and length: the windows' spread (the 95 % half-width a single window would need,
``1.96 * sd / mean``), and the mean half-width each interval estimator claimed for a window of that length
(``independent``: the ratio estimator over counter sub-windows; ``blocks``: the same over consecutive blocks of
sub-windows, :func:`joulebench.sweep.stats.block_ci95_rel`), and the range of the windows' temperatures. An
estimator is calibrated when its claim is near the spread of windows taken at one temperature; one far wider makes
the precision rule extend windows for nothing, and a spread that follows the temperature is the card, not the
window. Then every window in the order measured, with its energy per image and temperature.

Examples::

    PYTHONPATH=src python3 benchmarks/window_precision.py run resnet50.a1_in1k:torch-fp32:256 --state .bench/wp
    python3 benchmarks/window_precision.py report --state data/h100/window-precision
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _save(state: Path, row: dict[str, Any]) -> None:
    path = state / "windows.jsonl"
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")
    out = os.environ.get("OUT")
    if out:
        shutil.copy(path, Path(out) / path.name)


def run(configs: list[str], lengths: list[float], repeats: int, state: Path, deadline: float) -> int:
    """Measure the windows of every configuration (see the module docstring)."""
    from joulebench.meters import get_meter
    from joulebench.models.resolve import resolve_models
    from joulebench.runtimes import get_runtime
    from joulebench.sweep.protocol import WindowPlan, device_facts, measure_batch, to_measurement

    t_end = time.monotonic() + deadline
    state.mkdir(parents=True, exist_ok=True)
    meter = get_meter(os.environ.get("WP_METER", "nvml"), align=True)
    facts = device_facts(meter)
    meter.measure_idle(1.0)
    for config in configs:
        model, runtime_name, batch_s = config.split(":")
        batch = int(batch_s)
        spec = resolve_models(model)[0]
        rt = get_runtime(runtime_name)
        rt.load(spec)
        base = {"run_id": "wp", "model": model, "img_size": spec.img_size, "runtime": runtime_name}
        base["precision"] = rt.precision
        first = True
        for k in range(repeats):
            order = lengths if k % 2 == 0 else list(reversed(lengths))
            for length in order:
                if time.monotonic() > t_end:
                    print("deadline reached", flush=True)
                    return 0
                plan = WindowPlan(3.0 if first else 0.5, 3 if first else 1, length, 2, None, length, "full")
                first = False
                r = measure_batch(rt, meter, batch, plan)
                m = to_measurement(r, base, meter, facts)
                row = {
                    "model": model, "runtime": runtime_name, "batch": batch, "length_s": length, "repeat": k,
                    "gpu_name": facts.get("gpu_name"), "energy_per_image_j": m.energy_per_image_j,
                    "ci95_rel": m.ci95_rel, "duration_s": r.duration_s, "latency_mean_s": m.latency_mean_s,
                    "temperature_max_c": m.temperature_max_c,
                    "segments": [
                        {"marks": s.counter_marks, "completions": s.completions} for s in r.segments
                    ],
                }  # fmt: skip
                _save(state, row)
                print(json.dumps({k: v for k, v in row.items() if k != "segments"}), flush=True)
        rt.release()
        rt.close()
    return 0


def _read(state: Path) -> list[dict[str, Any]]:
    path = state / "windows.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def claims(row: dict[str, Any]) -> dict[str, float | None]:
    """Each estimator's 95 % half-width for one stored window."""
    from joulebench.sweep.stats import block_ci95_rel, ratio_ci95_rel, subwindows_from_marks

    energies: list[float] = []
    images: list[float] = []
    for seg in row["segments"]:
        e, i = subwindows_from_marks([tuple(m) for m in seg["marks"]], seg["completions"], row["batch"])
        energies += e
        images += i
    return {"independent": ratio_ci95_rel(energies, images), "blocks": block_ci95_rel(energies, images)}


def report(state: Path) -> list[str]:
    """The calibration table (see the module docstring), one line per configuration and window length."""
    rows = _read(state)
    groups: dict[tuple[str, str, int, float], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["model"], r["runtime"], r["batch"], r["length_s"]), []).append(r)
    lines = [
        f"{'model':<28} {'runtime':<12} {'batch':>5} {'len s':>5} {'n':>2} {'mJ/img':>8} {'spread':>7}"
        f" {'indep.':>7} {'blocks':>7} {'deg C':>7}"
    ]
    for (model, runtime, batch, length), rs in sorted(groups.items()):
        e = [float(r["energy_per_image_j"]) for r in rs]
        mean = sum(e) / len(e)
        sd = math.sqrt(sum((x - mean) ** 2 for x in e) / (len(e) - 1)) if len(e) > 1 else float("nan")
        cl = [claims(r) for r in rs]

        def avg(key: str, cl: list[dict[str, float | None]] = cl) -> str:
            vals = [c[key] for c in cl if c[key] is not None]
            return f"{100 * sum(vals) / len(vals):6.2f}%" if vals else "   n/a "

        lines.append(
            f"{model[:28]:<28} {runtime:<12} {batch:>5} {length:>5.1f} {len(rs):>2} {1000 * mean:>8.2f}"
            f" {100 * 1.96 * sd / mean:6.2f}% {avg('independent')} {avg('blocks')} {_temps(rs):>7}"
        )
    lines.append("windows in the order measured (energy per image follows the card's temperature):")
    for r in rows:
        lines.append(
            f"  {r['model'][:28]:<28} {r['batch']:>5} {r['length_s']:>4.1f} s #{r['repeat']}:"
            f" {1000 * float(r['energy_per_image_j']):8.2f} mJ at {float(r['temperature_max_c']):.0f} C"
        )
    return lines


def _temps(rows: list[dict[str, Any]]) -> str:
    """The windows' hottest readings, lowest-highest: energy per image follows the card's temperature."""
    t = [float(r["temperature_max_c"]) for r in rows if r.get("temperature_max_c") is not None]
    return f"{min(t):.0f}-{max(t):.0f}" if t else "n/a"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="measure windows on the GPU")
    r.add_argument("configs", nargs="+", help="MODEL:RUNTIME:BATCH")
    r.add_argument("--lengths", default="3.2,10", help="window lengths in seconds, comma-separated")
    r.add_argument("--repeats", type=int, default=4)
    r.add_argument("--state", type=Path, required=True)
    r.add_argument("--deadline", type=float, default=550.0, help="stop starting windows after this many seconds")
    s = sub.add_parser("report", help="print the calibration table")
    s.add_argument("--state", type=Path, required=True)
    a = p.parse_args(argv)
    if a.cmd == "run":
        lengths = [float(x) for x in a.lengths.split(",")]
        return run(a.configs, lengths, a.repeats, a.state, a.deadline)
    print("\n".join(report(a.state)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
