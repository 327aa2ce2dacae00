"""The merge recipe of docs/DISTRIBUTED.md, run as written: results of two stores combine without duplicates."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from joulebench.store import BatchMeasurement, Failure, ModelSummary, RunRecord, Store

DOC = Path(__file__).resolve().parents[2] / "docs" / "DISTRIBUTED.md"
SRC = Path(__file__).resolve().parents[2] / "src"  # the script imports this checkout's joulebench, not an installed one


def _recipe() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    (block,) = [b for b in blocks if "merge_results.py" in b]
    return textwrap.dedent(block)


def _fill(path: Path, run_id: str, gpu: str, models: list[str]) -> None:
    with Store(path) as s:
        s.add_run(RunRecord(run_id=run_id, started_at="2026-11-28T00:00:00", meter="sim", config={"x": 1}))
        for m in models:
            base = dict(run_id=run_id, model=m, img_size=224, runtime="torch-fp16", precision="fp16")
            meas = [BatchMeasurement(**base, batch_size=b, gpu_name=gpu, energy_per_image_j=1.0 / b) for b in (1, 2)]
            summ = ModelSummary(**base, gpu_name=gpu, node=f"{gpu}-node", optimal_batch=2, energy_per_image_j=0.5)
            fail = [Failure(run_id=run_id, model=m, img_size=224, runtime="torch-fp16", stage="oom", reason="oom")]
            s.save_task(meas, summ, fail)
        s.finish_run(run_id, "ok")


def test_documented_merge_combines_clusters_once(tmp_path):
    a, b, merged = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "merged.db"
    _fill(a, "run-a", "A100", ["resnet18", "vit_tiny"])
    _fill(b, "run-b", "H100", ["resnet18"])
    script = tmp_path / "merge_results.py"
    script.write_text(_recipe())
    for _ in range(2):  # merging twice must not duplicate anything
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        subprocess.run([sys.executable, str(script), str(merged), str(a), str(b)], check=True, env=env)
    with Store.open_readonly(merged) as s:
        summaries = s.summaries()
        assert sorted((r["run_id"], r["model"], r["gpu_name"]) for r in summaries) == [
            ("run-a", "resnet18", "A100"),
            ("run-a", "vit_tiny", "A100"),
            ("run-b", "resnet18", "H100"),
        ]
        assert {r["node"] for r in summaries} == {"A100-node", "H100-node"}
        assert s.count("measurements") == 6 and s.count("failures") == 3
        assert sorted(r["run_id"] for r in s.runs()) == ["run-a", "run-b"]
