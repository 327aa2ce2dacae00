"""The explorer's payload, site writer, server and CLI (no browser here; see test_app_browser.py)."""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import types
import urllib.request

import pandas as pd
import pytest
from typer.testing import CliRunner

from factories import SETUPS, TESTSETS, Dataset, make_batches, make_dataset
from joulebench.app.build import build_payload, build_site, payload_js, write_site
from joulebench.app.server import make_server, server_url
from joulebench.errors import ConfigError


def test_payload_carries_batch_curves_and_the_ci_of_own_readings():
    ds = make_dataset()
    p = build_payload(ds, make_batches(ds))
    setups = {s["id"]: s for s in p["setups"]}
    own = setups["H200:compile-fp16"]
    assert "curves" not in setups["A100:torch-fp32"] and "curves" not in setups["H200:torch-fp32:sim"]
    assert own["curves"]["m"] == own["m"]  # every own reading has its curve
    k = own["curves"]["m"].index(own["m"][0])
    assert own["curves"]["bs"][k] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]  # the failed 1024 is left out
    at64 = own["curves"]["bs"][k].index(64)
    # the final reading of batch 64 wins over the (later-written, noisier) scouting one
    assert own["curves"]["ci"][k][at64] == pytest.approx(0.05 / 7, rel=1e-3)
    assert own["curves"]["e"][k][at64] == pytest.approx(own["e"][0], rel=1e-3)
    assert own["ci"] == [pytest.approx(0.05 / 7, rel=1e-3)] * len(own["m"])  # the CI of the kept batch's reading
    assert "ci" not in setups["A100:torch-fp32"]


def test_batch_files_reads_per_batch_exports_only(tmp_path):
    from joulebench.app.batches import batch_files, load_batches

    ds = make_dataset()
    make_batches(ds).to_csv(tmp_path / "measurements.csv", index=False)
    ds.energy.assign(optimal_batch=64).to_csv(tmp_path / "summaries.csv", index=False)
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    assert batch_files([tmp_path]) == [tmp_path / "measurements.csv"]
    assert len(load_batches(data=[tmp_path])) == len(make_batches(ds))
    assert load_batches(data=[tmp_path / "notes.csv"]) is None


def test_payload_is_columnar_and_complete():
    ds = make_dataset()
    p = build_payload(ds)
    models = p["models"]
    n = len(models["name"])
    assert n == 40
    assert all(len(col) == n for col in models.values())
    assert p["testsets"] == list(TESTSETS)
    assert p["types"] == ["CNN", "Transformer", "Hybrid CNN-Transformer", "MLP"]
    ids = [s["id"] for s in p["setups"]]
    assert set(ids) == set(SETUPS) | {"H200:torch-fp32:sim"}
    sim = next(s for s in p["setups"] if s["id"].endswith(":sim"))
    assert sim["simulated"] is True and len(sim["m"]) == 5
    # the same model configuration at two input sizes stays two entries
    keys = list(zip(models["name"], models["img"], strict=True))
    assert ("resnet_0.test_in1k", 224) in keys and ("resnet_0.test_in1k", 288) in keys
    # every energy value maps back to its row (rounded to 6 significant digits)
    trt = next(s for s in p["setups"] if s["id"] == "H100:tensorrt-fp16")
    assert len(trt["m"]) == 30
    e = ds.energy[ds.energy.setup == "H100:tensorrt-fp16"].set_index(["model", "img_size"])["energy_per_image_j"]
    for i, val in zip(trt["m"], trt["e"], strict=True):
        assert math.isclose(val, e[keys[i]], rel_tol=1e-5)
    # accuracy aligned with models; missing sketch values are null
    sk = p["acc"]["sketch"]
    assert sum(v is None for v in sk) == 2
    a = ds.accuracy[ds.accuracy.testset == "imagenet"].set_index(["model", "img_size"])["top1"]
    assert all(math.isclose(p["acc"]["imagenet"][i], a[k], rel_tol=1e-5) for i, k in enumerate(keys))
    json.dumps(p, allow_nan=False)  # strict JSON: no NaN reaches the browser


def test_payload_handles_missing_catalogue_and_nan():
    ds = make_dataset()
    energy = ds.energy.copy()
    energy.loc[0, "energy_per_image_j"] = float("nan")  # a failed run: dropped, not plotted as 0
    energy.loc[1, "throughput_ips"] = float("nan")
    extra = energy.iloc[[2]].copy()
    extra["model"] = "not_in_catalogue.x"
    p = build_payload(Dataset(pd.concat([energy, extra]), ds.accuracy, ds.catalogue.iloc[0:0]))
    m = p["models"]
    assert "not_in_catalogue.x" in m["name"]
    j = m["name"].index("not_in_catalogue.x")  # no catalogue row and no family rule: Unknown, no page
    assert p["types"][m["type"][j]] == "Unknown" and m["url"][j] is None and m["year"][j] is None
    first = next(s for s in p["setups"] if s["id"] == energy.loc[0, "setup"])
    failed = (energy.loc[0, "model"], energy.loc[0, "img_size"])
    assert failed not in {(m["name"][i], m["img"][i]) for i in first["m"]}
    json.dumps(p, allow_nan=False)


def test_payload_rejects_missing_columns():
    ds = make_dataset()
    with pytest.raises(ConfigError, match="energy_per_image_j"):
        build_payload(Dataset(ds.energy.drop(columns=["energy_per_image_j"]), ds.accuracy, ds.catalogue))
    with pytest.raises(ConfigError, match="testset"):
        build_payload(Dataset(ds.energy, ds.accuracy.drop(columns=["testset"]), ds.catalogue))


def test_only_http_urls_and_no_script_breakout():
    ds = make_dataset()
    cat = ds.catalogue.copy()
    cat.loc[0, "url"] = "javascript:alert(1)"
    energy = ds.energy.copy()
    energy.loc[energy.model == cat.loc[1, "model"], "model"] = "</script><script>alert(1)</script>"
    p = build_payload(Dataset(energy, ds.accuracy, cat))
    assert None in p["models"]["url"]
    assert not any(u and u.startswith("javascript") for u in p["models"]["url"])
    js = payload_js(p)
    assert "</script>" not in js and js.startswith("window.JB_DATA=JSON.parse(")
    back = json.loads(json.loads(js[len("window.JB_DATA=JSON.parse(") : -3].replace("<\\/", "</")))
    assert "</script><script>alert(1)</script>" in back["models"]["name"]


@pytest.mark.slow
def test_build_site_writes_a_self_contained_site(tmp_path):
    index = build_site(tmp_path / "site", dataset=make_dataset())
    site = index.parent
    assert sorted(f.name for f in site.iterdir()) == ["app.js", "data.js", "index.html", "style.css"]
    html = index.read_text()
    assert 'src="data.js"' in html and 'src="app.js"' in html
    for text in (html, (site / "app.js").read_text(), (site / "style.css").read_text()):
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)  # nothing loaded from elsewhere
        assert "@import" not in text and "fetch(" not in text
    with pytest.raises(ConfigError, match="is a file"):
        write_site(index, build_payload(make_dataset()))


@pytest.mark.slow
def test_server_serves_the_site_on_a_free_port(tmp_path):
    build_site(tmp_path, dataset=make_dataset())
    server = make_server(tmp_path, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = server_url(server)
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/")
        with urllib.request.urlopen(url + "data.js", timeout=10) as r:
            assert r.read().startswith(b"window.JB_DATA=")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ConfigError, match="no index.html"):
        make_server(tmp_path / "empty", "127.0.0.1", 0)


@pytest.fixture
def fake_data_module(monkeypatch):
    """Stand in for joulebench.data so the CLI can be tested on the hand-made dataset."""
    calls = []

    def load_dataset(db=None):
        calls.append(db)
        return make_dataset()

    monkeypatch.setitem(sys.modules, "joulebench.data", types.SimpleNamespace(load_dataset=load_dataset))
    monkeypatch.setattr("joulebench.app.build.load_batches", lambda db=None: make_batches(make_dataset()))
    return calls


@pytest.mark.slow
def test_cli_app_build_writes_site(tmp_path, fake_data_module, monkeypatch):
    from joulebench.cli import app

    monkeypatch.delenv("JOULEBENCH_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["app", "build", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "data.js").is_file() and "wrote" in res.output
    assert fake_data_module == [None]  # no ./joulebench.db here: reference data only
    db = tmp_path / "mine.db"
    db.write_bytes(b"")
    res = CliRunner().invoke(app, ["app", "build", str(tmp_path / "out2"), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert fake_data_module[-1] == db
    res = CliRunner().invoke(app, ["app", "build", str(tmp_path / "out3"), "--db", str(tmp_path / "missing.db")])
    assert res.exit_code != 0


def test_cli_app_serves_with_options(tmp_path, fake_data_module, monkeypatch):
    import joulebench.app.server as server_mod
    from joulebench.cli import app

    seen = {}

    def fake_serve(site_dir, host, port, open_browser, on_ready):
        seen.update(
            host=host, port=port, open_browser=open_browser, files=sorted(p.name for p in site_dir_path(site_dir))
        )
        on_ready(f"http://{host}:12345/")

    def site_dir_path(d):
        from pathlib import Path

        return Path(d).iterdir()

    monkeypatch.setattr(server_mod, "serve", fake_serve)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["app", "--no-browser", "--port", "0"])
    assert res.exit_code == 0, res.output
    assert seen == {
        "host": "127.0.0.1",
        "port": 0,
        "open_browser": False,
        "files": ["app.js", "data.js", "index.html", "style.css"],
    }
    assert "http://127.0.0.1:12345/" in res.output
    res = CliRunner().invoke(app, ["app", "--host", "0.0.0.0", "--port", "8123"])
    assert res.exit_code == 0, res.output
    assert seen["host"] == "0.0.0.0" and seen["port"] == 8123 and seen["open_browser"] is True


def test_own_rows_of_a_reference_setup_stay_apart_and_failed_rows_drop():
    ds = make_dataset()
    own = ds.energy[ds.energy.setup == "A100:torch-fp32"].head(3).copy()
    own["source"] = "joulebench"
    own["energy_per_image_j"] *= 2
    failed = ds.energy[ds.energy.setup == "H100:torch-fp32"].head(1).copy()
    failed["setup"], failed["status"] = "B200:torch-fp32", "failed"
    p = build_payload(Dataset(pd.concat([own, ds.energy, failed]), ds.accuracy, ds.catalogue))
    by_id = {s["id"]: s for s in p["setups"]}
    assert len(by_id["A100:torch-fp32"]["m"]) == 40 and by_id["A100:torch-fp32"]["source"] == "hidden-joules-2025"
    mine = by_id["A100:torch-fp32 [joulebench]"]
    assert len(mine["m"]) == 3 and mine["source"] == "joulebench"
    assert "B200:torch-fp32" not in by_id  # only a failed row: nothing to plot


def test_timm_accuracy_wins_over_the_papers():
    ds = make_dataset()
    paper = ds.accuracy.copy()
    paper["source"], paper["top1"] = "hidden-joules-2025", 1.0
    p = build_payload(Dataset(ds.energy, pd.concat([ds.accuracy, paper]), ds.catalogue))
    assert min(v for v in p["acc"]["imagenet"] if v is not None) > 50


def test_family_table_fills_what_the_catalogue_lacks():
    families = pytest.importorskip("joulebench.models.families")
    name = "resnet50.a1_in1k"
    fam, typ = families.classify(name)
    energy = pd.DataFrame([dict(model=name, img_size=224, setup="A100:torch-fp32", energy_per_image_j=0.01)])
    acc = pd.DataFrame([dict(model=name, img_size=224, testset="imagenet", top1=80.0)])
    stats = pd.DataFrame([dict(model=name, img_size=224, params=25.6e6, macs=4.1e9, activations=1e7)])
    ds = types.SimpleNamespace(energy=energy, accuracy=acc, catalogue=pd.DataFrame(), stats=stats)
    p = build_payload(ds)
    m = p["models"]
    assert p["types"][m["type"][0]] == typ and p["families"][m["family"][0]] == fam.name
    assert m["year"][0] == fam.year and m["params"][0] == 25600000 and m["macs"][0] == 4100000000
    assert m["url"][0] == f"https://huggingface.co/timm/{name}"


@pytest.mark.slow
def test_payload_flags_readings_that_fail_a_consistency_check():
    ds = make_dataset()
    e = ds.energy.copy()
    e.loc[(e.setup == "H100:torch-fp32") & (e.model == "vit_2.test_in1k"), "energy_per_image_j"] *= 0.2
    payload = build_payload(ds._replace(energy=e))
    setups = {s["id"]: s for s in payload["setups"]}
    names = payload["models"]["name"]
    h100 = {names[i]: why for i, why in setups["H100:torch-fp32"]["flag"]}
    a100 = {names[i]: why for i, why in setups["A100:torch-fp32"]["flag"]}
    # a fifth of the energy at the same throughput is a fifth of the power: the H100 reading is named, not the A100's
    assert "vit_2.test_in1k" in h100 and "vit_2.test_in1k" not in a100
    assert (
        h100["vit_2.test_in1k"].startswith("0.")
        and "x its energy on A100:torch-fp32 (typically" in h100["vit_2.test_in1k"]
        and "; it implies " in h100["vit_2.test_in1k"]
    )
    assert all(i in setups["H100:torch-fp32"]["m"] for i, _ in setups["H100:torch-fp32"]["flag"])
    # five times faster at the usual power: a difference of speed, so either reading may be the odd one
    fast = e.copy()
    fast.loc[(fast.setup == "H100:torch-fp32") & (fast.model == "vit_2.test_in1k"), "throughput_ips"] *= 5
    both = {s["id"]: {names[i]: why for i, why in s["flag"]} for s in build_payload(ds._replace(energy=fast))["setups"]}
    assert both["A100:torch-fp32"]["vit_2.test_in1k"].startswith("H100:torch-fp32 reads 0.")
    assert "implies" not in both["H100:torch-fp32"]["vit_2.test_in1k"]
    assert setups["H200:torch-fp32:sim"]["flag"] == []  # simulated numbers are not checked
    clean = {s["id"]: s["flag"] for s in build_payload(ds)["setups"]}
    assert "vit_2.test_in1k" not in {names[i] for i, _ in clean["H100:torch-fp32"]}


def test_app_js_joins_every_module_in_order():
    from joulebench.app.build import APP_MODULES, STATIC_DIR, app_js

    assert sorted(APP_MODULES) == sorted(p.name for p in (STATIC_DIR / "js").glob("*.js"))
    js = app_js()
    marks = [js.index(f"/* ---- {name} ---- */") for name in APP_MODULES]
    assert marks == sorted(marks) and js.rstrip().endswith("})();")
