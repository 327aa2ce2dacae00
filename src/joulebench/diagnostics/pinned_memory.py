"""Does inductor leave pinned host memory behind in a compile-fp16 worker, and does ``prepare`` give it back?

A compile-fp16 worker's shared memory (``RssShmem``) can grow by tens of GB, all in ``/dev/zero (deleted)``
mappings, which is how the CUDA driver maps page-locked host memory. The cause is inductor's autotuner, which
copies the arguments that a kernel writes into to pinned host memory whenever a GPU clone would raise the peak;
the sweep resets that peak before every batch, and torch's caching host allocator keeps those blocks. The
runtime's ``prepare`` therefore empties that cache after its warm-up calls
(:func:`joulebench.runtimes.base.empty_pinned_cache`).

This probe runs the same model and batch sizes twice, each time in a fresh child process, the way a sweep worker
does: the GPU's peak is reset, then ``prepare``, then ``release``.

- ``keep``: the cache-emptying is switched off, so nothing gives the pinned cache back.
- ``empty``: joulebench as it is.

After each ``prepare``, the probe records the child's shared memory (``RssShmem``) and torch's pinned-allocator
counters. If the cache holds that memory, the keep arm's shared memory tracks its pinned bytes and grows with the
batch, while the empty arm's stays flat and its pinned peak exceeds its current bytes.

    python3 -m joulebench.diagnostics.pinned_memory [--model vit_base_patch16_224] [--batches 1024 4096]

Prints one table row per arm and batch, then a verdict. Needs a CUDA GPU with Triton (torch.compile).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from joulebench.diagnostics import child_process

ARMS = ("keep", "empty")
MODULE = "joulebench.diagnostics.pinned_memory"
GB = 1e9


def child(arm: str, model: str, batches: list[int]) -> int:
    """Prepare ``model`` on compile-fp16 at each batch as a sweep worker would; one JSON line per batch."""
    import torch

    from joulebench.models.resolve import resolve_models
    from joulebench.runtimes import base, get_runtime, torch_eager
    from joulebench.sweep.host_memory import host_memory

    def say(**row: Any) -> None:
        print(json.dumps({"arm": arm, **row}), flush=True)

    if not torch.cuda.is_available():
        say(error="no CUDA device")
        return 2
    if arm == "keep":  # switch the emptying off: nothing gives the pinned cache back
        base.empty_pinned_cache = torch_eager.empty_pinned_cache = lambda _torch: False
    (spec,) = resolve_models([model])
    rt = get_runtime("compile-fp16", device="cuda:0")
    rt.load(spec)
    for batch in batches:
        torch.cuda.reset_peak_memory_stats()  # as protocol.measure_batch does before every batch
        t0 = time.perf_counter()
        fn = rt.prepare(batch)
        prepare_s = time.perf_counter() - t0
        stats = torch.cuda.host_memory_stats() if hasattr(torch.cuda, "host_memory_stats") else {}
        mem = host_memory()
        say(
            batch=batch,
            prepare_s=prepare_s,
            gpu_peak_b=torch.cuda.max_memory_allocated(),
            shmem_b=mem.get("host_rss_shmem_b"),
            rss_b=mem.get("host_rss_b"),
            pinned_b=stats.get("allocated_bytes.current"),
            pinned_peak_b=stats.get("allocated_bytes.peak"),
            pinned_blocks=stats.get("num_host_alloc"),
        )
        del fn
        rt.release()
    rt.close()
    say(done=True)
    return 0


def summarize(lines: list[str], ended: dict[str, str]) -> str:
    """The table of both children's JSON lines, how each ended, and what the numbers say."""
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # torch's and inductor's own output, or a line torn by a kill
    steps = [r for r in rows if "batch" in r]

    def gb(v: Any) -> str:
        return "–" if v is None else f"{v / GB:.1f}"

    def count(v: Any) -> str:
        return "–" if v is None else str(v)

    out = [
        "| arm | batch | prepare s | GPU peak GB | shared memory GB | pinned now GB | pinned peak GB | pinned blocks |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {r['arm']} | {r['batch']} | {r['prepare_s']:.0f} | {gb(r['gpu_peak_b'])} | {gb(r['shmem_b'])} | "
        f"{gb(r['pinned_b'])} | {gb(r['pinned_peak_b'])} | {count(r['pinned_blocks'])} |"
        for r in steps
    ]
    errors = {r["arm"]: r["error"] for r in rows if "error" in r}
    out.append("")
    out += [f"{arm}: {errors.get(arm) or ended.get(arm, 'not run')}" for arm in ARMS]
    last = {arm: next((r for r in reversed(steps) if r["arm"] == arm), None) for arm in ARMS}
    keep, empty = last["keep"], last["empty"]
    if keep and empty and keep["shmem_b"] is not None and empty["shmem_b"] is not None:
        out.append("")
        out.append(
            f"at batch {keep['batch']}: shared memory {gb(keep['shmem_b'])} GB with the cache kept, "
            f"{gb(empty['shmem_b'])} GB with it emptied"
        )
        out.append(f"verdict: {_verdict(keep, empty)}")
    return "\n".join(out)


def _verdict(keep: dict[str, Any], empty: dict[str, Any]) -> str:
    if keep["shmem_b"] < 2**30:
        return "not reproduced: with the cache kept, shared memory stayed below 1 GiB at this model and batch"
    if empty.get("pinned_peak_b") == 0:  # None: a torch without the counters, judged on shared memory alone
        return "inconclusive: the emptied arm never asked for pinned memory (no pinned peak), so it tested nothing"
    if empty["shmem_b"] < 0.1 * keep["shmem_b"]:
        return "the shared memory is torch's pinned cache, and emptying it after prepare gives it back"
    return "emptying the pinned cache did not give the shared memory back: something else holds it"


def main(argv: list[str] | None = None) -> int:
    """Run both arms, each in its own child process, and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="vit_base_patch16_224", help="timm model (default vit_base_patch16_224)")
    p.add_argument("--batches", type=int, nargs="+", default=[1024, 4096], help="batch sizes, in order")
    p.add_argument("--timeout", type=float, default=400.0, help="seconds for both children together (default 400)")
    p.add_argument("--child", choices=ARMS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if any(b < 1 for b in args.batches):
        p.error("--batches must be positive")
    if args.child:
        return child(args.child, args.model, args.batches)
    lines: list[str] = []
    ended: dict[str, str] = {}
    deadline = time.monotonic() + args.timeout
    caches = tempfile.mkdtemp(prefix="jb-pinned-probe-")
    for arm in ARMS:
        # a fresh compile cache per arm: a cache hit would skip the autotuning whose copies are being measured
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": os.path.join(caches, arm)}
        env["TRITON_CACHE_DIR"] = os.path.join(caches, arm, "triton")
        cmd, env = child_process(
            MODULE, "--child", arm, "--model", args.model, "--batches", *map(str, args.batches), env=env
        )
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            output, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            ended[arm] = "finished" if proc.returncode == 0 else f"exited with status {proc.returncode}"
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            ended[arm] = "timed out"
        lines += output.splitlines()
    shutil.rmtree(caches, ignore_errors=True)  # compiled kernels only; nothing of the result
    print(summarize(lines, ended))
    return 0


if __name__ == "__main__":
    sys.exit(main())
