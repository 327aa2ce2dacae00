"""Check the NVML meter on a real GPU (about 2 minutes). Prints a markdown table; writes JSON under $OUT if set.

Run from the repository root on a machine with an NVIDIA GPU:

    PYTHONPATH=src python3 benchmarks/meter_check.py [--device 0] [--size 8192]

(a) idle baseline over 5 s;
(b) one ~8 s window of steady matmul load: counter energy vs. the integral of sampled power
    (nvmlDeviceGetPowerUsage and the POWER_INSTANT field, two meters on the same window), target within 5 %;
(c) 1 s windows under steady load: 10 unaligned and 10 aligned through the window API, and 10 counter-aligned
    sub-windows cut while the work keeps running (the counter API the sweep uses): spread (CV) of energy per
    window and per iteration;
(d) `joulebench meter -- python3 -c "<3 s of GPU load>"` in a subprocess, and `joulebench info --json`.
Never changes the card's power limit, clocks or modes.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

GPU_LOAD_3S = (
    "import time, torch; a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16); b = a.clone(); "
    "t = time.monotonic()\n"
    "while time.monotonic() - t < 3.0:\n"
    "    [a @ b for _ in range(20)]; torch.cuda.synchronize()\n"
)


def cv(xs: list[float]) -> float:
    return statistics.stdev(xs) / statistics.mean(xs) if len(xs) > 1 and statistics.mean(xs) else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", type=int, default=0)
    ap.add_argument("--size", type=int, default=8192, help="matmul side")
    ap.add_argument("--windows", type=int, default=10)
    ap.add_argument("--steady-s", type=float, default=8.0)
    args = ap.parse_args()

    import torch

    from joulebench.meters.nvml import NvmlMeter

    if not torch.cuda.is_available():
        print("no CUDA GPU visible to torch: run this on a machine with an NVIDIA GPU", file=sys.stderr)
        return 2
    dev = torch.device("cuda", args.device)
    torch.cuda.set_device(dev)

    def sync() -> None:
        torch.cuda.synchronize(dev)

    mats = [torch.randn(args.size, args.size, device=dev, dtype=torch.bfloat16) for _ in range(2)]

    def step() -> None:
        mats[0] @ mats[1]

    for _ in range(50):  # warm up cuBLAS
        step()
    sync()

    report: dict = {"device": args.device, "matmul": f"{args.size}x{args.size} bf16"}
    meter = NvmlMeter(device=args.device, sync=sync)
    instant = NvmlMeter(device=args.device, sync=lambda: None, power_source="instant")
    report["describe"] = meter.describe()
    rows: list[tuple[str, str, str]] = []

    # Cost of one driver read (the counter is much slower than a power reading on some boards).
    nv, h = meter._nv, meter._handles[args.device]
    costs = {}
    for name, fn in (
        ("nvmlDeviceGetTotalEnergyConsumption", lambda: nv.nvmlDeviceGetTotalEnergyConsumption(h)),
        ("nvmlDeviceGetPowerUsage", lambda: nv.nvmlDeviceGetPowerUsage(h)),
    ):
        t = time.perf_counter()
        for _ in range(200):
            fn()
        costs[name] = (time.perf_counter() - t) / 200
        rows.append((f"cost of one {name} call", f"{costs[name] * 1e6:.1f} µs", "–"))
    report["read_cost_s"] = costs

    # (a) idle baseline
    time.sleep(2.0)  # let the warm-up's power decay a little
    idle_w = meter.measure_idle(5.0)
    report["idle_power_w"] = idle_w
    rows.append(("(a) idle power, 5 s window", f"{idle_w:.1f} W", "–"))

    # (b) steady load, one window, two power sources
    t_end = time.monotonic() + 1.0
    while time.monotonic() < t_end:  # ramp up before the window opens
        for _ in range(20):
            step()
        sync()
    iters = 0
    w_inst = instant.begin_window()
    with meter.window(align=True) as w:
        for _ in range(20):
            step()
        iters += 20
        t = time.perf_counter()
        for _ in range(200):  # what the sweep does after each launch: answered by the window's counter watcher
            meter.read_counter_j()
        read_in_window_s = (time.perf_counter() - t) / 200
        t_end = time.monotonic() + args.steady_s
        while time.monotonic() < t_end:
            for _ in range(20):
                step()
            iters += 20
    r_inst = w_inst.end()
    r = w.result
    ratio = r.sampled_energy_j / r.counter_energy_j
    ratio_i = r_inst.sampled_energy_j / r.counter_energy_j * (r.duration_s / r_inst.duration_s)
    ts = r.trace_summary()
    report["steady"] = {
        "result": r.to_dict(),
        "instant_result": r_inst.to_dict(),
        "iterations": iters,
        "read_counter_in_window_s": read_in_window_s,
        "counter_marks": [(m.t_s, m.energy_j) for m in r.counter_marks],
        "sampled_over_counter": ratio,
        "instant_sampled_over_counter_rate_matched": ratio_i,
    }
    rows += [
        ("(b) steady window: duration / iterations", f"{r.duration_s:.2f} s / {iters}", "~8 s"),
        ("(b) counter energy, avg power", f"{r.counter_energy_j:.1f} J, {r.avg_power_w:.0f} W", "–"),
        ("(b) mJ per iteration (reference for c)", f"{r.counter_energy_j / iters * 1e3:.2f} mJ", "–"),
        ("(b) sampled (power usage) / counter", f"{ratio:.4f}", "0.95–1.05"),
        ("(b) sampled (POWER_INSTANT) / counter, per second", f"{ratio_i:.4f}", "0.95–1.05"),
        ("(b) sampler rate, samples", f"{ts.get('sample_rate_hz', 0):.0f} Hz, {ts['samples']}", ">= 100 Hz"),
        ("(b) read_counter_j() inside a window, per call", f"{read_in_window_s * 1e6:.1f} µs", "µs, not ms"),
        ("(b) counter marks recorded in the window", f"{len(r.counter_marks)}", "~10 per second"),
        (
            "(b) max temperature, throttle reasons",
            f"{ts.get('temperature_c_max')} °C, 0x{ts['throttle_reasons']:x}",
            "–",
        ),
        ("(b) notes", "; ".join(r.notes) or "none", "none"),
    ]

    # (c) 1 s windows under steady load
    def one_window(align: bool) -> tuple[float, int, float]:
        n = 0
        with meter.window(align=align) as w:
            t_end = time.monotonic() + 1.0
            while time.monotonic() < t_end:
                for _ in range(10):
                    step()
                n += 10
        return w.result.energy_j, n, w.result.duration_s

    series: dict[str, list[tuple[float, int, float]]] = {}
    for align in (False, True):
        one_window(align)  # discard one: the first after (b) sees the queue state change
        series["window API, unaligned" if not align else "window API, aligned"] = [
            one_window(align) for _ in range(args.windows)
        ]

    # Counter-aligned sub-windows while work keeps running (what the sweep does): a CounterWatch thread records
    # every counter change; the loop keeps a few chunks queued and notes (time, iterations finished) whenever a
    # chunk's CUDA event completes. Each sub-window spans two counter marks about 1 s apart.
    chunk, depth = 5, 3
    pending: deque = deque()
    done: list[tuple[float, int]] = []
    finished = launched = 0
    with meter.counter_watch(args.device) as watch:
        t_stop = time.monotonic() + args.windows * 1.1 + 2.5
        while time.monotonic() < t_stop:
            while len(pending) < depth:
                for _ in range(chunk):
                    step()
                launched += chunk
                ev = torch.cuda.Event()
                ev.record()
                pending.append(ev)
            if pending[0].query():
                pending.popleft()
                finished += chunk
                done.append((meter.clock(), finished))
            else:
                time.sleep(0.0001)
        sync()
    marks = watch.marks()

    def iters_at(t: float) -> float:
        i = bisect.bisect_left(done, (t, -1))
        if i == 0 or i >= len(done):
            return float("nan")
        (ta, na), (tb, nb) = done[i - 1], done[i]
        return na + (nb - na) * (t - ta) / (tb - ta) if tb > ta else float(nb)

    subs: list[tuple[float, int, float]] = []
    j = 1  # skip the first mark: power is still ramping up after the idle gaps of the windows above
    for k in range(2, len(marks)):
        if marks[k].t_s - marks[j].t_s >= 1.0:
            n_it = iters_at(marks[k].t_s) - iters_at(marks[j].t_s)
            if n_it == n_it:  # both ends inside the recorded run
                subs.append((marks[k].energy_j - marks[j].energy_j, n_it, marks[k].t_s - marks[j].t_s))
            j = k
    series["counter API sub-windows, work continues"] = subs

    report["windows_1s"] = {}
    for name, xs in series.items():
        per_w = [e for e, _, _ in xs]
        per_it = [e / k for e, k, _ in xs if k]
        dur = [d for _, _, d in xs]
        report["windows_1s"][name] = {
            "energy_j": per_w,
            "iterations": [round(k, 1) for _, k, _ in xs],
            "duration_s": dur,
            "cv_energy_per_window": cv(per_w),
            "cv_energy_per_iteration": cv(per_it),
        }
        rows.append(
            (
                f"(c) 1 s {name}: CV per window / per iteration (n={len(xs)})",
                f"{cv(per_w) * 100:.2f} % / {cv(per_it) * 100:.2f} %",
                "aligned < unaligned",
            )
        )
        if per_it:
            rows.append((f"(c) {name}: mean mJ per iteration", f"{statistics.mean(per_it) * 1e3:.2f} mJ", "–"))
    meter.close()
    instant.close()
    mats.clear()
    torch.cuda.empty_cache()

    # (d) the CLI on a separate process
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "joulebench", "meter", "--meter", "nvml", "--idle", "0", "--json", "--"]
    cmd += [sys.executable, "-c", GPU_LOAD_3S]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
    report["cli_meter"] = {"returncode": p.returncode, "stderr_tail": p.stderr[-2000:]}
    if p.returncode == 0:
        d = json.loads(p.stdout)
        res = d["result"]
        report["cli_meter"]["result"] = res
        rows.append(
            (
                "(d) `joulebench meter -- python3 -c <3 s load>`",
                f"{res['energy_j']:.1f} J in {res['duration_s']:.2f} s, {res['avg_power_w']:.0f} W, "
                f"method {res['method']}",
                "exit 0",
            )
        )
    else:
        rows.append(("(d) `joulebench meter`", f"FAILED rc={p.returncode}: {p.stderr.strip()[-300:]}", "exit 0"))
    q = subprocess.run([sys.executable, "-m", "joulebench", "info", "--json"], capture_output=True, text=True, env=env)
    ok = q.returncode == 0
    info = json.loads(q.stdout) if ok else {}
    report["cli_info"] = {"returncode": q.returncode, "info": info, "stderr_tail": q.stderr[-2000:]}
    working = [m["name"] for m in info.get("meters", []) if m["available"]]
    rows.append(("(d) `joulebench info`", f"rc={q.returncode}; meters working: {', '.join(working)}", "rc=0"))

    gpu = (report["describe"].get("devices") or [{}])[0]
    print(
        f"\n## meter_check on {gpu.get('name')} ({gpu.get('uuid')}), driver {report['describe'].get('driver')}, "
        f"power limit {gpu.get('power_limit_w')} W, torch {torch.__version__}\n"
    )
    print("| check | result | target |")
    print("| --- | --- | --- |")
    for c, v, t in rows:
        print(f"| {c} | {v} | {t} |")
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "meter_check.json").write_text(json.dumps(report, indent=2, default=str))
        print(f"\nJSON written to {Path(out) / 'meter_check.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
