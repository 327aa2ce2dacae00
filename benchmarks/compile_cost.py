"""Where a compiled runtime's build time goes during a batch search: one line per compile, with dynamo's reason.

For each model, in a fresh subprocess per variant (each with an empty inductor cache of its own, so every compile
is cold), the runtime builds the scouting program at each batch of ``--scouts`` (``prepare_scout``, as the scan
does) and then the static program of each ``--finals`` batch (``prepare``). Each line: the batch, the phase, the
build seconds (``last_prepare_s``: compile plus the first call) and the recompilations dynamo logged during it
(``TORCH_LOGS=recompiles``).

Each scouting build is followed by about a second of calls at that batch (``latency_s``, the mean per call), so
that the variants' programs can be compared as well as their build times.

Variants: ``--starts 1,2`` runs the scouting sequence from each start batch (batches below it dropped);
``--indexing wide,inductor`` compiles the scouting program with 64-bit indices (as the runtime does) and with
inductor's own 32-bit choice, which recompiles when a batch crosses 2**31 elements in some tensor.

Example (GPU)::

    PYTHONPATH=src python3 benchmarks/compile_cost.py resnet50.a1_in1k --runtime compile-fp16
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SCOUTS = "1,2,8,32,128,512,1024,2048,4096,8192"


def _latency_s(rt: object, fn: object, batch: int, seconds: float = 1.0) -> float:
    """Mean seconds per call of ``fn`` at ``batch`` over about ``seconds`` (after the build's own warm-up call)."""
    x = rt.make_inputs(batch, n=1)[0]
    calls, t0 = 0, time.monotonic()
    while True:
        fn(x)
        calls += 1
        if calls % 4 == 0:
            rt.synchronize()
            if time.monotonic() - t0 >= seconds:
                return (time.monotonic() - t0) / calls


def _child(model: str, runtime_name: str, scouts: list[int], finals: list[int], indexing: str) -> int:
    """Build every program in this process and print one JSON line per build."""
    import contextlib
    import logging

    import joulebench.runtimes.compiled as compiled
    from joulebench.models.resolve import resolve_models
    from joulebench.runtimes import get_runtime

    logs: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logs.append(record.getMessage()[:300])

    logging.getLogger("torch._dynamo").addHandler(Keep())
    if indexing == "inductor":  # the runtime's scouting program without its 64-bit indices
        compiled.wide_indexing = contextlib.nullcontext
    spec = resolve_models(model)[0]
    rt = get_runtime(runtime_name)
    rt.load(spec)
    for phase, batches in (("scout", scouts), ("full", finals)):
        for b in batches:
            logs.clear()
            t0 = time.monotonic()
            row = {"model": model, "runtime": runtime_name, "batch": b, "phase": phase}
            try:
                fn = (rt.prepare_scout if phase == "scout" else rt.prepare)(b)
                row.update(status="ok", prepare_s=round(rt.last_prepare_s, 2))
                row["latency_s"] = round(_latency_s(rt, fn, b), 6)
                del fn
            except Exception as e:  # out of memory or a compile error: recorded, the sequence goes on
                row.update(status=f"error: {str(e).splitlines()[0][:160]}", prepare_s=round(time.monotonic() - t0, 2))
            row["recompiles"] = [m for m in logs if "ecompil" in m][:3]
            print(json.dumps(row), flush=True)
            if phase == "full":
                rt.release()
    rt.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--runtime", default="compile-fp16")
    p.add_argument("--scouts", default=SCOUTS, help="scouting batches, in order")
    p.add_argument("--finals", default="2048,1024", help="batches compiled statically after the scouts")
    p.add_argument("--starts", default="1,2", help="one variant per start batch")
    p.add_argument("--indexing", default="wide", help="scouting programs' indices, comma list of wide and inductor")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    scouts = [int(x) for x in a.scouts.split(",")]
    finals = [int(x) for x in a.finals.split(",") if x]
    if a.child:
        return _child(a.models[0], a.runtime, scouts, finals, a.indexing)
    out = Path(os.environ.get("OUT", ".")) / "compile-cost.jsonl"
    for model in a.models:
        for start, indexing in ((int(x), i) for x in a.starts.split(",") for i in a.indexing.split(",")):
            seq = ",".join(str(b) for b in scouts if b >= start)
            with tempfile.TemporaryDirectory(prefix="inductor-") as cache:
                env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "TORCH_LOGS": "recompiles"}
                cmd = [sys.executable, __file__, model, "--runtime", a.runtime, "--scouts", seq]
                cmd += ["--finals", a.finals, "--indexing", indexing, "--child"]
                t0 = time.monotonic()
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=900)
            with out.open("a") as f:
                for line in proc.stdout.splitlines():
                    if line.startswith("{"):
                        row = json.loads(line)
                        row.update(start=start, indexing=indexing)
                        f.write(json.dumps(row) + "\n")
                        print(json.dumps(row), flush=True)
            print(f"{model} start {start} {indexing}: {time.monotonic() - t0:.1f} s, rc {proc.returncode}", flush=True)
            log = out.with_name(f"compile-{model.split('.')[0]}-start{start}-{indexing}.log")
            log.write_text(proc.stderr[-60000:])  # dynamo's recompile reasons, whole
            if proc.returncode:
                print(proc.stderr[-3000:], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
