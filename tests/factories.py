"""Builders of test data shared by several test modules: store records, and an explorer dataset (no tests here)."""

from __future__ import annotations

import dataclasses
import itertools
from collections import namedtuple
from types import SimpleNamespace

import numpy as np
import pandas as pd

from joulebench.data import TESTSETS  # the explorer dataset covers every test set the project knows
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


# ----------------------------------------------------------------------------- explorer dataset (app tests)

Dataset = namedtuple("Dataset", "energy accuracy catalogue")

FAMILIES = {"resnet": "CNN", "vit": "Transformer", "convnext": "CNN", "mixer": "MLP", "levit": "Hybrid CNN-Transformer"}
SETUPS = {  # setup -> (gpu, runtime, precision, source, speed-up over A100 fp32, models kept)
    "A100:torch-fp32": ("A100", "torch-fp32", "fp32", "hidden-joules-2025", 1.0, 40),
    "A100:tensorrt-fp16": ("A100", "tensorrt-fp16", "fp16", "hidden-joules-2025", 3.0, 38),
    "H100:torch-fp32": ("H100", "torch-fp32", "fp32", "hidden-joules-2025", 1.3, 40),
    "H100:tensorrt-fp16": ("H100", "tensorrt-fp16", "fp16", "hidden-joules-2025", 4.0, 30),
    "H200:compile-fp16": ("H200", "compile-fp16", "fp16", "joulebench", 4.5, 40),
}


def make_dataset(seed: int = 0) -> Dataset:
    """40 model configurations (one arch at two input sizes) on 5 setups, plus 5 simulated H200 rows."""
    rng = np.random.default_rng(seed)
    names = []
    for fam in FAMILIES:
        for k in range(8):
            names.append((f"{fam}_{k}.test_in1k", 224))
    names[1] = ("resnet_0.test_in1k", 288)  # same arch.tag, another input size
    energy, acc, cat = [], [], []
    for j, (name, size) in enumerate(names):
        fam = name.split("_")[0]
        base_e = float(rng.uniform(0.002, 0.4))  # joules per image on A100 fp32
        top1 = float(60 + 30 * rng.random())
        for setup, (gpu, runtime, prec, source, speed, keep) in SETUPS.items():
            if j >= keep:
                continue
            e = base_e / speed * float(rng.uniform(0.8, 1.2))
            energy.append(
                dict(
                    model=name,
                    img_size=size,
                    gpu=gpu,
                    runtime=runtime,
                    precision=prec,
                    setup=setup,
                    source=source,
                    energy_per_image_j=e,
                    throughput_ips=250.0 / e,
                    latency_s=0.01 + e,
                    batch_size=64,
                    max_batch=512,
                    power_limit_w=300.0,
                    status="ok",
                    meter="nvml",
                    simulated=False,
                )
            )
        if j < 5:
            energy.append(
                dict(
                    model=name,
                    img_size=size,
                    gpu="H200",
                    runtime="torch-fp32",
                    precision="fp32",
                    setup="H200:torch-fp32:sim",
                    source="joulebench",
                    energy_per_image_j=base_e / 1.5,
                    throughput_ips=100.0,
                    latency_s=0.05,
                    batch_size=32,
                    max_batch=256,
                    power_limit_w=700.0,
                    status="ok",
                    meter="sim",
                    simulated=True,
                )
            )
        for t_ix, t in enumerate(TESTSETS):
            if t == "sketch" and j in (3, 4):
                continue  # missing accuracy: these two drop out when sketch is chosen
            acc.append(
                dict(
                    model=name, img_size=size, testset=t, top1=top1 - 5 * t_ix * rng.random(), top5=None, source="timm"
                )
            )
        cat.append(
            dict(
                model=name,
                arch=name.split(".")[0],
                tag="test_in1k",
                img_size=size,
                type=FAMILIES[fam],
                family=fam,
                year=2019 + j % 5,
                pretrain="in1k",
                url=f"https://huggingface.co/timm/{name}",
                params=1e6 * (j + 1),
                macs=1e9 * (j + 1) / 2,
                activations=1e6,
            )
        )
    return Dataset(pd.DataFrame(energy), pd.DataFrame(acc), pd.DataFrame(cat))


def make_batches(ds: Dataset) -> pd.DataFrame:
    """Per-batch readings behind the own H200:compile-fp16 results: batch 1..512, the kept batch (64) measured
    twice (a short scouting reading, then the final one that matches the summary), and an out-of-memory 1024."""
    rows = []
    own = ds.energy[ds.energy.setup == "H200:compile-fp16"]
    for r in own.itertuples():
        for k, bs in enumerate((1, 2, 4, 8, 16, 32, 64, 128, 256, 512)):
            e = r.energy_per_image_j * (1 + 4 / bs) / (1 + 4 / 64)
            base = dict(model=r.model, img_size=r.img_size, runtime="compile-fp16", precision="fp16", batch_size=bs,
                        gpu_name="NVIDIA H200", meter="nvml", energy_per_image_j=e, throughput_ips=250.0 / e,
                        avg_power_w=250.0, ci95_rel=0.05 / (k + 1), measured_at=f"2026-11-29T06:{k:02d}:00+00:00",
                        status="ok", trace_summary='{"phase": "scout"}')  # fmt: skip
            if bs == 64:
                rows.append({**base, "energy_per_image_j": e * 1.3, "ci95_rel": 0.2})  # scouting: shorter, noisier
                base = {**base, "trace_summary": '{"phase": "full"}', "measured_at": "2026-11-29T05:00:00+00:00"}
            rows.append(base)
        rows.append({**base, "batch_size": 1024, "status": "oom", "energy_per_image_j": None})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- analysis dataset (report tests)

#: A model name that would run a script if the report did not escape it.
EVIL_MODEL = "evil<script>alert(1)</script>.tag"
ANALYSIS_TESTSETS = ("imagenet", "imagenet-real", "imagenetv2", "sketch", "imagenet-a", "imagenet-r")


def analysis_dataset(n=36, seed=0):
    """A synthetic dataset view for the analyses: ``n`` models (one is :data:`EVIL_MODEL`) on four setups."""
    rng = np.random.default_rng(seed)
    names = [f"fam{i % 6}_{i}.tag" for i in range(n - 1)] + [EVIL_MODEL]
    cat = pd.DataFrame(
        {
            "model": names,
            "arch": [m.split(".")[0] for m in names],
            "img_size": 224,
            "type": [("CNN", "Transformer", "Hybrid CNN-Transformer", "MLP")[i % 4] for i in range(n)],
            "family": [f"fam{i % 6}" for i in range(n)],
            "params": 10 ** rng.uniform(6, 8, n),
            "macs": 10 ** rng.uniform(8, 10.5, n),
            "activations": 10 ** rng.uniform(6, 8, n),
        }
    )
    base = np.exp(-18) * cat["params"] ** 0.5 * cat["macs"] ** 0.3 * cat["activations"] ** 0.2
    rows = []
    for gpu, limit, gscale in (("A100", 250.0, 1.0), ("H100", 310.0, 0.8)):
        for rt, prec, rscale in (("torch-fp32", "fp32", 1.0), ("tensorrt-fp16", "fp16", 0.25)):
            e = base * gscale * rscale * np.exp(rng.normal(0, 0.1, n))
            rows.append(
                pd.DataFrame(
                    {
                        "model": names,
                        "img_size": 224,
                        "gpu": gpu,
                        "runtime": rt,
                        "precision": prec,
                        "setup": f"{gpu}:{rt}",
                        "source": "hidden-joules-2025",
                        "energy_per_image_j": e,
                        "throughput_ips": limit / e * 0.9,
                        "latency_s": 0.01 + 0.1 * e,
                        "power_limit_w": limit,
                    }
                )
            )
    energy = pd.concat(rows, ignore_index=True)
    top1 = 60 + 8 * np.log10(base / base.min() + 1) + rng.normal(0, 1, n)
    acc = pd.DataFrame(
        [
            {"model": m, "img_size": 224, "testset": t, "top1": float(a - 10 * k), "source": "x"}
            for m, a in zip(names, top1, strict=True)
            for k, t in enumerate(ANALYSIS_TESTSETS)
        ]
    )
    return SimpleNamespace(energy=energy, accuracy=acc, catalogue=cat, stats=None)
