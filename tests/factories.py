"""Record factories shared by the store tests (no tests here)."""

from __future__ import annotations

import dataclasses
import itertools

from joulebench.store import BatchMeasurement, Failure, ModelSummary, RunRecord

_counter = itertools.count(1)


def full(cls, **given):
    """A record with every field set to a distinct, non-default value (so a lost column shows)."""
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in given:
            continue
        n = next(_counter)
        t = str(f.type)
        if t.startswith("dict"):
            values[f.name] = {"samples": n, "power_w_mean": n / 3, "nested": {"ok": True, "list": [1, 2.5, "é"]}}
        elif "bool" in t:
            values[f.name] = True
        elif "int" in t:
            values[f.name] = n
        elif "float" in t:
            values[f.name] = n / 7 + 1e-12
        else:
            values[f.name] = f"{f.name}-{n}-µ"
    values.update(given)
    return cls(**values)


def run(
    run_id="run1", meter="nvml", gpu="NVIDIA H200", uuid="GPU-aaaa", config=None, command="joulebench measure 'resnet*'"
):
    return RunRecord(
        run_id=run_id,
        started_at="2026-11-28T12:00:00+00:00",
        meter=meter,
        command=command,
        provenance={
            "gpu_name": gpu,
            "gpu_uuid": uuid,
            "power_limit_w": 700.0,
            "driver": "570.86",
            "torch": "2.11.0",
            "timm": "1.0.29",
            "joulebench": "0.1.0",
            "host": "node-1",
            "gpus": [{"name": gpu, "memory_b": 150e9}],
        },
        config=config if config is not None else {"search": "plateau", "window_s": 5.0},
    )


def task(
    run_id="run1",
    model="resnet50.a1_in1k",
    img=224,
    runtime="torch-fp32",
    meter="nvml",
    gpu="NVIDIA H200",
    uuid="GPU-aaaa",
    batches=(1, 8, 64),
    status="ok",
    scale=1.0,
):
    """(measurements, summary, failures) of one plausible task."""
    ms = [
        BatchMeasurement(
            run_id=run_id,
            model=model,
            img_size=img,
            runtime=runtime,
            precision="fp32",
            batch_size=b,
            gpu_name=gpu,
            gpu_uuid=uuid,
            meter=meter,
            method="counter",
            energy_per_image_j=scale * 0.01 / b**0.5,
            dynamic_energy_per_image_j=scale * 0.006 / b**0.5,
            throughput_ips=100.0 * b,
            latency_p50_s=0.001 * b,
            avg_power_w=300.0,
            trace_summary={"samples": b},
        )
        for b in batches
    ]
    summary = ModelSummary(
        run_id=run_id,
        model=model,
        img_size=img,
        runtime=runtime,
        precision="fp32",
        status=status,
        gpu_name=gpu,
        gpu_uuid=uuid,
        meter=meter,
        optimal_batch=batches[-1],
        energy_per_image_j=ms[-1].energy_per_image_j,
        throughput_ips=ms[-1].throughput_ips,
        latency_mean_s=0.05,
        avg_power_w=300.0,
        power_limit_w=700.0,
    )
    failures = [
        Failure(
            run_id=run_id,
            model=model,
            img_size=img,
            runtime=runtime,
            stage="sweep",
            reason="out of memory",
            batch_size=batches[-1] * 2,
        )
    ]
    return ms, summary, failures
