"""Where a process that reserves GPU memory stops: CUDA's out-of-memory error, or a kill from outside.

A sweep worker killed by SIGKILL with nothing on its output, at a batch whose GPU memory the card could hold,
points at the host rather than the card. This probe reserves GPU memory with plain
allocations (``torch.empty`` on the device, which is ``cudaMalloc`` through PyTorch's allocator) in fixed steps,
in a child process, and after each step records the GPU's free memory and the host's available memory and the
child's resident set. If host memory falls as GPU memory is reserved, or the child is killed before CUDA says
out of memory, the machine's RAM, not the card, bounds the batch search there.

    python3 -m joulebench.diagnostics.memory_limits [--step-gib 8] [--max-gib 140] [--timeout 120]

Prints a table (one row per step) and how the child ended. Needs a CUDA GPU; never uses managed memory.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from typing import Any

from joulebench.diagnostics import child_process

GIB = 1024**3
MODULE = "joulebench.diagnostics.memory_limits"


def _mem_total_b() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def child(step_gib: float, max_gib: float) -> int:
    """Reserve GPU memory step by step, printing one JSON line per step (flushed: a kill loses nothing)."""
    import torch

    from joulebench.sweep.host_memory import host_memory

    def say(**row: Any) -> None:
        print(json.dumps(row), flush=True)

    if not torch.cuda.is_available():
        say(error="no CUDA device")
        return 2
    free, total = torch.cuda.mem_get_info()
    say(start=True, gpu_total_b=total, gpu_free_b=free, host_total_b=_mem_total_b(), **host_memory())
    held, reserved = [], 0.0
    while reserved + step_gib <= max_gib:
        try:
            block = torch.empty(int(step_gib * GIB), dtype=torch.uint8, device="cuda")
            block.fill_(1)  # touch it, in case pages are committed lazily
            torch.cuda.synchronize()
        except torch.cuda.OutOfMemoryError:
            say(oom=True, gib=reserved + step_gib)
            return 0
        held.append(block)
        reserved += step_gib
        free, _ = torch.cuda.mem_get_info()
        say(gib=reserved, gpu_free_b=free, **host_memory())
    say(done=True, gib=reserved)
    return 0


def summarize(lines: list[str], returncode: int | None) -> str:
    """The table of a child's JSON lines and one line on how it ended (``returncode`` None: timed out)."""
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line torn by a kill
    start = next((r for r in rows if r.get("start")), {})
    steps = [r for r in rows if "gib" in r and not r.get("oom") and not r.get("done")]

    def gib(v: Any) -> str:
        return "–" if v is None else f"{v / GIB:.1f}"

    out = []
    if start:
        out.append(
            f"GPU total {gib(start.get('gpu_total_b'))} GiB, free {gib(start.get('gpu_free_b'))} GiB; host total "
            f"{gib(start.get('host_total_b'))} GiB, available {gib(start.get('host_available_b'))} GiB"
        )
    out += ["", "| reserved GiB | GPU free GiB | host available GiB | child RSS GiB |", "| --- | --- | --- | --- |"]
    out += [
        f"| {r['gib']:g} | {gib(r.get('gpu_free_b'))} | {gib(r.get('host_available_b'))} | {gib(r.get('host_rss_b'))} |"
        for r in steps
    ]
    last = steps[-1]["gib"] if steps else 0
    oom = next((r for r in rows if r.get("oom")), None)
    error = next((r["error"] for r in rows if "error" in r), None)
    if error:
        end = f"no probe: {error}"
    elif oom is not None:
        end = f"CUDA out of memory asking for {oom['gib']:g} GiB in all (held {last:g} GiB)"
    elif any(r.get("done") for r in rows):
        end = f"reserved all {last:g} GiB asked for, no error"
    elif returncode is None:
        end = f"timed out after {last:g} GiB"
    elif returncode < 0:
        end = f"killed by signal {-returncode} ({signal.Signals(-returncode).name}) after {last:g} GiB, with no error"
    else:
        end = f"exited with status {returncode} after {last:g} GiB"
    if len(steps) >= 2 and steps[0].get("host_available_b") and steps[-1].get("host_available_b"):
        drop = (steps[0]["host_available_b"] - steps[-1]["host_available_b"]) / GIB
        grew = steps[-1]["gib"] - steps[0]["gib"]
        out.append("")
        out.append(f"host available memory fell by {drop:.1f} GiB while {grew:g} GiB more GPU memory was reserved")
    out += ["", f"ended: {end}"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run the probe in a child process and print its table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--step-gib", type=float, default=8.0, help="GiB reserved per step (default 8)")
    p.add_argument("--max-gib", type=float, default=140.0, help="stop after this much in all (default 140)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before the child is killed (default 120)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.step_gib <= 0 or args.max_gib < args.step_gib:
        p.error("--step-gib must be positive and at most --max-gib")
    if args.child:
        return child(args.step_gib, args.max_gib)
    cmd, env = child_process(MODULE, "--child", "--step-gib", str(args.step_gib), "--max-gib", str(args.max_gib))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        output, _ = proc.communicate(timeout=args.timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        rc = None
    print(summarize(output.splitlines(), rc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
