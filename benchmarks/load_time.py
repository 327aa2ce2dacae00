"""Time loading the catalogue and the dataset, and whole CLI commands, in fresh processes.

Usage: ``python benchmarks/load_time.py [--repeat 5]``. Prints a table (median and min of the repeats)
and the machine's load average (other work on the machine inflates the numbers); JSON under $OUT.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SNIPPETS = {
    "import pandas": "import pandas",
    "load_catalogue()": "from joulebench.models.catalogue import load_catalogue; load_catalogue()",
    "load_dataset()": "from joulebench.data import load_dataset; load_dataset()",
    "load_dataset() + model_table(setup)": (
        "from joulebench.data import load_dataset; load_dataset().model_table(setup='H100:tensorrt-fp16')"
    ),
}
COMMANDS = {
    "joulebench --help": ["--help"],
    "joulebench models --limit 20": ["models", "--limit", "20"],
    "joulebench models --setup H100:tensorrt-fp16 --sort energy": [
        "models",
        "--setup",
        "H100:tensorrt-fp16",
        "--sort",
        "energy",
    ],  # fmt: skip
    "joulebench show resnet50.a1_in1k": ["show", "resnet50.a1_in1k"],
}


def _time_snippet(code: str) -> tuple[float, float]:
    # time inside the process, after interpreter start, so only the loading is measured; CPU time too,
    # since wall time on a shared machine includes waiting for a core
    prog = (
        "import time; t=time.perf_counter(); c=time.process_time(); "
        f"{code}; print(time.perf_counter()-t, time.process_time()-c)"
    )
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, check=True)
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _time_command(args: list[str]) -> tuple[float, float]:
    t = time.perf_counter()
    before = os.times()
    subprocess.run([sys.executable, "-m", "joulebench", *args], capture_output=True, text=True, check=True)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return time.perf_counter() - t, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rows = []
    for kind, items, fn in (("in-process", SNIPPETS, _time_snippet), ("whole command", COMMANDS, _time_command)):
        for name, what in items.items():
            ts = [fn(what) for _ in range(args.repeat)]
            walls, cpus = [t[0] for t in ts], [t[1] for t in ts]
            rows.append((kind, name, statistics.median(walls), min(walls), statistics.median(cpus)))
    w = max(len(r[1]) for r in rows)
    print(f"{'what':<14} {'step':<{w}} {'wall median s':>13} {'wall min s':>10} {'CPU median s':>12}")
    for kind, name, med, mn, cpu in rows:
        print(f"{kind:<14} {name:<{w}} {med:>13.3f} {mn:>10.3f} {cpu:>12.3f}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"load average {load}, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        data = [{"kind": k, "step": n, "median_s": m, "min_s": mn, "cpu_s": c} for k, n, m, mn, c in rows]
        (Path(out) / "load_time.json").write_text(json.dumps({"rows": data, "load": load}, indent=1))


if __name__ == "__main__":
    main()
