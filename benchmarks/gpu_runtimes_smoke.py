"""Smoke test of every CUDA runtime on a real GPU: prepare, run, compare with an FP32 reference.

Run on the GPU host from the repository root:

    PYTHONPATH=src python3 benchmarks/gpu_runtimes_smoke.py            # resnet50 and test_vit at batch 8
    PYTHONPATH=src python3 benchmarks/gpu_runtimes_smoke.py --models test_vit --batch 4

For each model it builds one set of random weights, saves it to a temporary file and loads it into every
runtime (so outputs are comparable), then for every runtime variant available here: load, prepare (timed),
run a few calls, check the output is finite and its relative error ``||out - ref|| / ||ref||`` against
``torch-fp32`` with TF32 off is below a tolerance for the precision. Prints a table and writes
``$OUT/gpu_runtimes_smoke.json`` when ``$OUT`` is set. Exit status 1 if any available runtime failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

# (label, runtime name, options): every registered CUDA runtime plus the variants worth checking once.
VARIANTS = [
    ("torch-fp32", "torch-fp32", {}),
    ("torch-fp32 tf32=on", "torch-fp32", {"tf32": "on"}),
    ("torch-fp16", "torch-fp16", {}),
    ("torch-fp16 graphs", "torch-fp16", {"cuda_graphs": True}),
    ("torch-bf16", "torch-bf16", {}),
    ("compile-fp16", "compile-fp16", {}),
    ("compile-fp16 graphs", "compile-fp16", {"cuda_graphs": True}),
    ("compile-bf16", "compile-bf16", {}),
    ("tensorrt-fp16", "tensorrt-fp16", {}),
    ("onnxruntime cuda", "onnxruntime", {"provider": "cuda"}),
    ("onnxruntime tensorrt", "onnxruntime", {"provider": "tensorrt"}),
]
# --device cpu: a dry run of this script's own logic on a machine without a GPU.
CPU_VARIANTS = [("cpu-fp32", "cpu-fp32", {}), ("onnxruntime cpu", "onnxruntime", {"provider": "cpu"})]
# Relative-error tolerance per precision (TF32 and ONNX Runtime's default use_tf32 count as fp32).
TOL = {"fp32": 2e-2, "fp16": 5e-2, "bf16": 1e-1}


def _rel_err(out, ref) -> float:
    import torch

    out = torch.as_tensor(out).to(device=ref.device, dtype=torch.float32)
    return float((out - ref).norm() / ref.norm().clamp_min(1e-12))


def run_variant(label, name, options, spec, batch, ref, calls, device="cuda:0"):
    import torch

    from joulebench.errors import JoulebenchError
    from joulebench.runtimes import get_runtime, get_runtime_class

    row = {"model": spec.model, "runtime": label, "batch": batch}
    ok, reason = get_runtime_class(name).available()
    if not ok:
        row.update(status="unavailable", reason=reason)
        return row
    try:
        rt = get_runtime(name, device=device, **options)
    except JoulebenchError as e:  # not installed / not supported here: a fact about the host, not a failure
        row.update(status="unavailable", reason=str(e))
        return row
    try:
        rt.load(spec)
        row["load_s"] = rt.load_s
        fn = rt.prepare(batch)
        row["prepare_s"] = rt.last_prepare_s
        xs = rt.make_inputs(batch)
        out = fn(xs[0])
        rt.synchronize()
        t0 = time.perf_counter()
        for i in range(calls):
            out = fn(xs[i % 2])
        rt.synchronize()
        row["ms_per_call"] = (time.perf_counter() - t0) * 1e3 / calls
        out = fn(xs[0])
        rt.synchronize()
        out_t = torch.as_tensor(out).float()
        finite = bool(torch.isfinite(out_t).all())
        x_ref = xs[0].float().contiguous()
        err = _rel_err(out_t, ref(x_ref)) if ref is not None else None
        tol = TOL[rt.precision]
        row.update(rel_err=err, tol=tol, finite=finite, settings=rt.describe())
        good = finite and (err is None or err <= tol)
        row["status"] = "ok" if good else "failed"
        if not good:
            row["reason"] = "non-finite output" if not finite else f"relative error {err:.3g} > {tol}"
        del fn, xs, out
    except Exception as e:  # report every failure in the table rather than stopping
        row.update(status="oom" if rt.is_oom(e) else "failed", reason=f"{type(e).__name__}: {e}")
        row["traceback"] = traceback.format_exc(limit=8)
    finally:
        rt.close()
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["resnet50", "test_vit"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--only", nargs="*", help="labels to run (default: all)")
    ap.add_argument("--device", default="cuda:0", help="cuda:N, or cpu for a dry run of the script itself")
    args = ap.parse_args()

    import torch

    from joulebench.models.resolve import create_model, resolve_models

    on_cpu = args.device == "cpu"
    if not on_cpu and not torch.cuda.is_available():
        print("no CUDA GPU visible: this script is for the GPU host (--device cpu for a dry run)", file=sys.stderr)
        return 2
    where = "CPU" if on_cpu else torch.cuda.get_device_name(torch.device(args.device))
    print(f"{where}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    rows = []
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            (spec0,) = resolve_models([name])
            torch.manual_seed(0)
            model = create_model(spec0)
            wpath = Path(tmp) / f"{spec0.arch}.pt"
            torch.save(model.state_dict(), wpath)
            (spec,) = resolve_models([name], weights=wpath)
            ref_model = model.to(args.device).float().eval()
            saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)

            def ref(x, m=ref_model, saved=saved):
                torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
                try:
                    with torch.inference_mode():
                        return m(x).float()
                finally:
                    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved

            for label, rname, options in CPU_VARIANTS if on_cpu else VARIANTS:
                if args.only and label not in args.only:
                    continue
                row = run_variant(label, rname, options, spec, args.batch, ref, args.calls, args.device)
                rows.append(row)
                print(_fmt(row), flush=True)
            del ref_model, model
            if not on_cpu:
                torch.cuda.empty_cache()
    total = time.perf_counter() - t_all
    print(f"\ntotal {total:.1f} s")
    print(_table(rows))
    out_dir = os.environ.get("OUT")
    if out_dir:
        path = Path(out_dir) / "gpu_runtimes_smoke.json"
        path.write_text(json.dumps({"rows": rows, "total_s": total}, indent=2, default=str))
        print(f"wrote {path}")
    return 1 if any(r["status"] in ("failed", "oom") for r in rows) else 0


def _fmt(row) -> str:
    return f"{row['model']:<22} {row['runtime']:<22} {row['status']}"


def _table(rows) -> str:
    head = f"{'model':<22} {'runtime':<22} {'status':<11} {'prepare_s':>9} {'ms/call':>8} {'rel_err':>9}  reason"
    lines = [head, "-" * len(head)]
    for r in rows:
        prep = f"{r['prepare_s']:.2f}" if "prepare_s" in r else "-"
        ms = f"{r['ms_per_call']:.3f}" if "ms_per_call" in r else "-"
        err = f"{r['rel_err']:.2e}" if r.get("rel_err") is not None else "-"
        reason = (r.get("reason") or "")[:90]
        lines.append(f"{r['model']:<22} {r['runtime']:<22} {r['status']:<11} {prep:>9} {ms:>8} {err:>9}  {reason}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
