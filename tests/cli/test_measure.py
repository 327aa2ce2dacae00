"""``joulebench measure`` end to end on the CPU with the simulated meter, checked through the store."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from joulebench.cli import main
from joulebench.data.dataset import gpu_short_name
from joulebench.store.db import Store
from joulebench.store.records import config_hash
from joulebench.sweep.tasks import PROTOCOLS, SweepOptions, protocol_options

FAST = [
    "--meter",
    "sim",
    "--min-window",
    "0.2s",
    "--warmup",
    "0.05s",
    "--min-iters",
    "3",
    "--idle",
    "0.1s",
    "--max-batch",
    "4",
    "--img-size",
    "64",
]


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    # Worker subprocesses inherit this: one BLAS/OpenMP thread keeps tiny models fast on a busy 2-core runner.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_measure_end_to_end_then_resume_then_force(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    code, out, err = _run(capsys, "measure", "test_vit", "--runtime", "cpu-fp32", *FAST, "--db", db, "--json")
    assert code == 0, err
    payload = json.loads(out)
    [summary] = payload["summaries"]
    assert summary["status"] == "ok" and summary["meter"] == "sim" and summary["gpu_uuid"] == "SIM-0"
    # stdout is the JSON report alone; stderr is the log, a line per task start and outcome
    assert " start test_vit.r160_in1k@64 cpu-fp32" in err and " done test_vit.r160_in1k@64 cpu-fp32: batch " in err
    with Store(db) as store:
        [s] = store.summaries()
        rows = store.measurements()
        [run] = store.runs()
    assert s["model"] == "test_vit.r160_in1k" and s["img_size"] == 64 and s["runtime"] == "cpu-fp32"
    batches = {r["batch_size"] for r in rows}
    assert 1 in batches and max(batches) <= 4
    assert s["optimal_batch"] in batches and s["energy_per_image_batch1_j"] is not None
    assert all(r["status"] == "ok" and r["iterations"] >= 3 for r in rows)
    assert run["meter"] == "sim" and run["config"]["search"] == "scan" and run["config"]["max_batch"] == 4

    # same command again: everything is done, nothing is measured or recorded
    code, out, err = _run(capsys, "measure", "test_vit", "--runtime", "cpu-fp32", *FAST, "--db", db, "--json")
    again = json.loads(out)
    assert code == 0 and again["summaries"] == [] and again["skipped"] == [["test_vit.r160_in1k", 64, "cpu-fp32"]]
    assert "older batch-search rule" not in err  # its search ended under the current rule
    with Store(db) as store:
        assert len(store.runs()) == 1 and len(store.summaries()) == 1

    # --force measures it again under a new run
    code, out, _ = _run(capsys, "measure", "test_vit", "--runtime", "cpu-fp32", *FAST, "--db", db, "--json", "--force")
    assert code == 0 and len(json.loads(out)["summaries"]) == 1
    with Store(db) as store:
        assert len(store.runs()) == 2 and len(store.summaries()) == 2


def _measured_pair(tmp_path, capsys) -> tuple[str, list[str]]:
    """test_vit and test_resnet measured into a fresh results file: its path and the command that measured them."""
    db = str(tmp_path / "r.db")
    cmd = ["measure", "test_vit", "test_resnet", "--runtime", "cpu-fp32", *FAST, "--db", db, "--json"]
    code, _, err = _run(capsys, *cmd)
    assert code == 0, err
    return db, cmd


@pytest.mark.slow
def test_redo_before_measures_again_only_older_results_and_then_resumes(tmp_path, capsys):
    db, cmd = _measured_pair(tmp_path, capsys)
    with Store(db) as store:  # test_vit's result predates a (pretend) protocol fix on 2026-06-01
        store._require().execute(
            "UPDATE summaries SET finished_at = ? WHERE model LIKE 'test_vit%'", ("2026-05-01T00:00:00+00:00",)
        )
        store._require().commit()

    code, out, err = _run(capsys, *cmd, "--redo-before", "2026-06-01T00:00")
    payload = json.loads(out)
    assert code == 0, err
    assert [s["model"] for s in payload["summaries"]] == ["test_vit.r160_in1k"]
    assert payload["skipped"] == [["test_resnet.r160_in1k", 64, "cpu-fp32"]]

    # the same command again: the new result is after the time, so nothing is left to redo
    code, out, _ = _run(capsys, *cmd, "--redo-before", "2026-06-01T02:00+02:00")
    assert code == 0 and json.loads(out)["summaries"] == []
    with Store(db) as store:
        assert len(store.summaries()) == 3 and len(store.runs()) == 2  # a run with nothing to do is not recorded


def _unscout(store: Store, model: str, above: int) -> None:
    """Delete the model's windows above batch ``above``: its search looks cut short there."""
    store._require().execute("DELETE FROM measurements WHERE model LIKE ? AND batch_size > ?", (model, above))


def _cut_both_short(db: str) -> None:
    """Both ladders cut short at batch 2, still falling: test_vit expected 10 % lower at 4, test_resnet 60 %."""
    with Store(db) as store:
        sql = "UPDATE measurements SET energy_per_image_j = ?, batch_size = ? WHERE model LIKE ? AND batch_size = ?"
        for model, at2 in (("test_vit%", 0.9), ("test_resnet%", 0.4)):
            store._require().execute(sql, (1.0, 1, model, 1))
            store._require().execute(sql, (at2, 2, model, 2))
            _unscout(store, model, above=2)
        store._require().commit()


@pytest.mark.slow
def test_redo_stale_measures_the_largest_expected_change_first(tmp_path, capsys):
    db, cmd = _measured_pair(tmp_path, capsys)
    _cut_both_short(db)
    code, out, err = _run(capsys, *cmd, "--redo-stale")
    payload = json.loads(out)
    assert code == 0, err
    assert [s[0] for s in payload["stale"]] == ["test_resnet.r160_in1k", "test_vit.r160_in1k"]
    assert [s["model"] for s in payload["summaries"]] == ["test_resnet.r160_in1k", "test_vit.r160_in1k"]


@pytest.mark.slow
def test_min_change_leaves_the_stale_results_expected_to_change_little(tmp_path, capsys):
    db, cmd = _measured_pair(tmp_path, capsys)
    _cut_both_short(db)
    code, out, err = _run(capsys, *cmd, "--redo-stale", "--min-change", "20%")
    payload = json.loads(out)
    assert code == 0, err
    assert [s[0] for s in payload["stale"]] == ["test_resnet.r160_in1k"]
    assert [s["model"] for s in payload["summaries"]] == ["test_resnet.r160_in1k"]
    assert ["test_vit.r160_in1k", 64, "cpu-fp32"] in payload["skipped"]
    assert "leaving 1 stale result(s) as they are: expected to read less than 20 % lower" in " ".join(err.split())
    code, out, err = _run(capsys, *cmd, "--redo-stale", "--min-change", "5%")  # now test_vit's turn
    assert code == 0 and [s["model"] for s in json.loads(out)["summaries"]] == ["test_vit.r160_in1k"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--min-change", "1%"], "add --redo-stale"), (["--redo-stale", "--min-change", "100%"], "from 0 up to 100")],
)
def test_min_change_is_refused_without_redo_stale_or_out_of_range(tmp_path, capsys, extra, message):
    code, _, err = _run(
        capsys, "measure", "test_vit", "--runtime", "cpu-fp32", *FAST, "--db", str(tmp_path / "r.db"), *extra
    )
    assert code != 0 and message in " ".join(err.split())


@pytest.mark.slow
def test_redo_stale_measures_again_what_the_current_search_would_have_continued(tmp_path, capsys, monkeypatch):
    db, cmd = _measured_pair(tmp_path, capsys)
    with Store(db) as store:  # make test_vit's ladder look cut short: still falling fast at batch 2, no batch 4
        [run_id] = [r["run_id"] for r in store.runs()]
        assert {r["batch_size"] for r in store.measurements(model="test_vit*")} >= {1, 2, 4}
        sql = "UPDATE measurements SET energy_per_image_j = ?, batch_size = ? WHERE model LIKE 'test_vit%' AND "
        store._require().execute(sql + "batch_size = ?", (1.0, 1, 1))
        store._require().execute(sql + "batch_size = ?", (0.5, 2, 2))
        _unscout(store, "test_vit%", above=2)
        store._require().commit()

    # without --redo-stale it is skipped like any finished result, but the log says so and names the fix
    code, out, err = _run(capsys, *cmd)
    assert code == 0 and json.loads(out)["summaries"] == []
    assert "1 of the skipped result(s) were measured under an older batch-search rule" in " ".join(err.split())
    assert "--redo-stale" in err

    # a sweep of another model judges only its own results: test_vit's ladder is not even read
    judged = []
    ladder = Store.scout_ladder
    monkeypatch.setattr(
        Store, "scout_ladder", lambda self, run, *key, **kw: judged.append(key) or ladder(self, run, *key, **kw)
    )
    other = ["measure", "test_resnet", "--runtime", "cpu-fp32", *FAST, "--db", db, "--json"]
    code, out, err = _run(capsys, *other, "--redo-stale")
    assert code == 0 and json.loads(out)["stale"] == [] and json.loads(out)["summaries"] == []
    assert judged == [("test_resnet.r160_in1k", 64, "cpu-fp32")]
    monkeypatch.undo()

    code, out, err = _run(capsys, *cmd, "--redo-stale")
    payload = json.loads(out)
    assert code == 0, err
    assert payload["stale"] == [["test_vit.r160_in1k", 64, "cpu-fp32", 4]]
    assert [s["model"] for s in payload["summaries"]] == ["test_vit.r160_in1k"]
    assert payload["skipped"] == [["test_resnet.r160_in1k", 64, "cpu-fp32"]]
    assert "measuring again 1 result(s) whose batch search the current rule would have continued" in err

    # measured again under the current rule, its ladder is complete: the same command does nothing
    code, out, _ = _run(capsys, *cmd, "--redo-stale")
    again = json.loads(out)
    assert code == 0 and again["summaries"] == [] and again["stale"] == []
    with Store(db) as store:
        assert len(store.summaries()) == 3 and run_id in {r["run_id"] for r in store.runs()}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--redo-before", "yesterday"], "--redo-before takes an ISO 8601 time"),
        (["--redo-before", "2026-06-01", "--force"], "give one"),
        (["--redo-stale", "--force"], "--force redoes everything"),
    ],
)
def test_redo_before_rejects_bad_input_with_the_fix(tmp_path, capsys, extra, message):
    code, _, err = _run(
        capsys, "measure", "test_vit", "--runtime", "cpu-fp32", *FAST, "--db", str(tmp_path / "r.db"), *extra
    )
    assert code != 0 and message in " ".join(err.split())


@pytest.fixture
def custom_models(tmp_path, monkeypatch):
    (tmp_path / "jb_custom_models.py").write_text(
        textwrap.dedent(
            """
            import os
            import torch

            class Crash(torch.nn.Module):
                def forward(self, x):
                    os._exit(7)  # dies like a segfaulting kernel would

            class Greedy(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = torch.nn.Conv2d(3, 4, 3)

                def forward(self, x):
                    if x.shape[0] > 2:  # killed for memory above batch 2, as an operating system does it
                        os.kill(os.getpid(), 9)
                    return self.conv(x).mean((2, 3))

            def greedy():
                return Greedy()

            class Tiny(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = torch.nn.Conv2d(3, 4, 3)

                def forward(self, x):
                    return self.conv(x).mean((2, 3))

            def crash():
                return Crash()

            def tiny():
                return Tiny()
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    yield
    sys.modules.pop("jb_custom_models", None)


@pytest.mark.slow
def test_a_crashing_model_is_recorded_and_the_sweep_goes_on(tmp_path, capsys, custom_models):
    db = str(tmp_path / "r.db")
    code, out, err = _run(
        capsys,
        "measure",
        "jb_custom_models:crash",
        "jb_custom_models:tiny",
        "--input-shape",
        "3,16,16",
        "--runtime",
        "cpu-fp32",
        *[a for a in FAST if a not in ("--img-size", "64")],
        "--db",
        db,
        "--json",
    )
    assert code == 0, err
    by_model = {s["model"]: s for s in json.loads(out)["summaries"]}
    assert by_model["jb_custom_models:crash"]["status"] == "failed"
    assert "exit status 7" in by_model["jb_custom_models:crash"]["error"]
    assert by_model["jb_custom_models:tiny"]["status"] == "ok"
    with Store(db) as store:
        [failure] = store.failures()
        # it died measuring its first batch: a crash at that batch, and nothing smaller to retry it at
        assert failure["model"] == "jb_custom_models:crash" and failure["stage"] == "crash"
        assert failure["batch_size"] == 1 and "(retry" not in err
        assert "exit status 7" in failure["reason"]
        # a failed model is not "done": a re-run tries it again, but skips the finished one
        assert store.done_keys("SIM-0") == {("jb_custom_models:tiny", 16, "cpu-fp32")}


@pytest.mark.slow
def test_a_worker_killed_at_a_large_batch_is_retried_below_it_and_the_next_run_starts_capped(
    tmp_path, capsys, custom_models
):
    db = str(tmp_path / "r.db")
    args = ["measure", "jb_custom_models:greedy", "--input-shape", "3,16,16", "--runtime", "cpu-fp32"]
    args += [a for a in FAST if a not in ("--img-size", "64")] + ["--db", db, "--json"]
    code, out, err = _run(capsys, *args)
    assert code == 0, err
    [summary] = json.loads(out)["summaries"]
    assert summary["status"] == "ok" and summary["optimal_batch"] in (1, 2)
    assert "(retry, max batch 2: the worker crashed at batch 4)" in err
    with Store(db) as store:
        [failure] = store.failures()
        rows = store.measurements()
    assert failure["stage"] == "crash" and failure["batch_size"] == 4
    assert "killed by signal 9) at batch 4 (scout)" in failure["reason"] and "ran out of memory" in failure["reason"]
    # the first attempt's batches are kept and the retry takes them as measured: batch 2 is scouted once;
    # nothing above the crash's ceiling was tried again
    assert [r["batch_size"] for r in rows if r["trace_summary"]["phase"] == "scout"].count(2) == 1
    assert max(r["batch_size"] for r in rows) == 2

    code, out, err = _run(capsys, *args, "--force")
    assert code == 0, err
    assert "searching up to batch 2 only; its worker crashed at batch 4 in an earlier run" in err
    assert "(retry" not in err and json.loads(out)["summaries"][0]["status"] == "ok"
    with Store(db) as store:
        assert len(store.failures()) == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (["--precision", "80%"], "--precision"),
        (["--min-window", "0s"], "--min-window"),
        (["--warmup", "3 parsecs"], "--warmup"),
        (["--tf32", "on"], "tf32"),
        (["--cuda-graphs"], "cuda_graphs"),
        (["--gpus", "0,0"], "--gpus"),
        (["--search", "bisect"], "unknown search"),
        (["--max-batch", "0"], "--max-batch"),
        (["--runtime", "cpu-fp32"], "twice"),
        (["--deadline", "0s"], "--deadline must be positive"),
        (["--deadline", "1h", "--executor", "ray"], "--deadline needs the local executor"),
        (["--worker-start", "spawn"], "--worker-start must be one of auto, fork, fresh"),
        (["--worker-start", "fresh", "--executor", "ray"], "--executor ray takes no --worker-start"),
        (["--cooldown", "450C"], "--cooldown takes a GPU temperature"),
        (["--cooldown", "45C", "--meter", "rapl"], "--meter rapl does not"),
    ],
)
def test_contradictory_or_invalid_flags_fail_before_anything_is_written(tmp_path, capsys, args, message):
    db = tmp_path / "r.db"
    code, out, err = _run(
        capsys, "measure", "test_vit", "--runtime", "cpu-fp32", "--meter", "sim", *args, "--db", str(db)
    )
    assert code == 2
    assert message in err and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not db.exists()


def test_unknown_model_names_close_matches(tmp_path, capsys):
    db = tmp_path / "r.db"
    code, _, err = _run(capsys, "measure", "test_vitt", "--runtime", "cpu-fp32", "--meter", "sim", "--db", str(db))
    assert code == 2 and "test_vit" in err and not db.exists()


def test_unavailable_runtime_says_why(tmp_path, capsys):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = _run(capsys, "measure", "test_vit", "--runtime", "torch-fp16", "--meter", "sim", "--db", "x.db")
    assert code == 2 and "torch-fp16" in err and "cannot run here" in err


@pytest.mark.slow
def test_resume_counts_work_of_any_board_of_the_same_gpu_model_unless_per_board(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    base = ["measure", "test_vit", "--runtime", "cpu-fp32", *FAST, "--db", db, "--json"]
    code, out, err = _run(capsys, *base, "--gpus", "0")
    assert code == 0, err
    assert json.loads(out)["summaries"][0]["gpu_uuid"] == "SIM-0"
    # another board of the same model (a new node, a fresh device machine): nothing to redo
    code, out, _ = _run(capsys, *base, "--gpus", "1")
    assert code == 0 and json.loads(out)["skipped"] == [["test_vit.r160_in1k", 64, "cpu-fp32"]]
    # --per-board: only what board 1 itself measured counts
    code, out, err = _run(capsys, *base, "--gpus", "1", "--per-board")
    payload = json.loads(out)
    assert code == 0, err
    assert payload["skipped"] == [] and payload["summaries"][0]["gpu_uuid"] == "SIM-1"


# ----------------------------------------------------------------------- measure --quick: a try in seconds

QUICK_SMALL = ["test_vit", "--runtime", "cpu-fp32", "--meter", "sim", "--max-batch", "4"]
# The default protocol with short windows, so that the test stays fast.
QUICK_SHORT = ["--min-window", "0.2s", "--warmup", "0.05s", "--min-iters", "3", "--idle", "0.1s", "--precision", "off"]


def test_the_protocols_name_enters_the_configuration_only_when_it_is_not_the_default():
    quick = protocol_options("quick")
    assert (quick.protocol, quick.min_window_s, quick.warmup_s, quick.precision, quick.idle_s) == (
        "quick",
        0.3,
        0.1,
        None,
        0.2,
    )
    assert quick.to_config()["protocol"] == "quick"
    # the same settings under another name are another protocol: a quick result is never done for it
    assert config_hash(SweepOptions(**PROTOCOLS["quick"]).to_config()) != config_hash(quick.to_config())
    assert "protocol" not in protocol_options("default").to_config()  # stored hashes of default runs stay
    assert protocol_options("default").to_config() == SweepOptions().to_config()


@pytest.mark.slow
def test_a_quick_run_is_labelled_everywhere_and_a_default_run_measures_again(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    code, out, err = _run(capsys, "measure", *QUICK_SMALL, "--quick", "--db", db, "--json")
    assert code == 0, err
    [summary] = json.loads(out)["summaries"]
    assert summary["status"] == "ok"
    with Store(db) as store:
        [run] = store.runs()
        [s] = store.summaries()
    assert run["config"]["protocol"] == "quick" and run["config"]["min_window_s"] == 0.3
    setup = f"{gpu_short_name(s['gpu_name'])}:cpu-fp32:quick:sim"

    code, out, _ = _run(capsys, "results", "--db", db)
    assert code == 0 and "sim quick" in out and "quick = quick protocol" in out
    code, out, _ = _run(capsys, "results", "--db", db, "--json")
    assert [r["protocol"] for r in json.loads(out)] == ["quick"]
    code, out, _ = _run(capsys, "show", "test_vit", "--db", db)
    assert code == 0 and setup in out and "quick protocol" in out
    for cmd in (["models", "test_vit", "--setup", setup], ["rank", "--setup", setup]):
        code, out, err = _run(capsys, *cmd, "--db", db)
        assert code == 0, err
        assert "QUICK PROTOCOL" in out and f"{setup}: short windows for a try" in out, err

    # --quick again: done; the default protocol: measured again, under a setup of its own
    code, out, _ = _run(capsys, "measure", *QUICK_SMALL, "--quick", "--db", db, "--json")
    assert code == 0 and json.loads(out)["skipped"] == [["test_vit.r160_in1k", 160, "cpu-fp32"]]
    code, out, err = _run(capsys, "measure", *QUICK_SMALL, *QUICK_SHORT, "--db", db, "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["skipped"] == [] and [s["status"] for s in again["summaries"]] == ["ok"]
    with Store(db) as store:
        assert sorted(r["config"].get("protocol", "default") for r in store.runs()) == ["default", "quick"]
    code, out, _ = _run(capsys, "results", "--db", db, "--json")
    assert sorted(r["protocol"] for r in json.loads(out)) == ["default", "quick"]
    code, out, _ = _run(capsys, "show", "test_vit", "--db", db)
    assert setup in out and setup.replace(":quick", "") in out


def test_quick_is_a_protocol_and_refuses_another_one(tmp_path, capsys):
    code, _, err = _run(
        capsys, "measure", *QUICK_SMALL, "--quick", "--protocol", "paper", "--db", str(tmp_path / "r.db")
    )
    assert code == 2 and "--quick is --protocol quick" in err
