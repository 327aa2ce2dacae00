"""The explorer in a real browser: Playwright drives Debian's Chromium against the built site.

Every control is checked on what the page plots (window.__jb), against numbers computed here from the
same dataset, not on events firing.
"""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import quote

import pytest

from explorer_page import as_map, assert_same, expected, manhattan_top, open_app, points, set_value, upload, wait_js
from factories import TESTSETS, make_dataset
from joulebench.app.build import build_site

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_loads_with_defaults_and_no_console_errors(page, site, ds):
    open_app(page, site["url"])
    st = page.evaluate("__jb.state()")
    # most recent GPU, optimised runtime; ImageNet; log axis; the simulated H200 setup is never the default
    assert st["setup"] == "H200:compile-fp16" and st["ts"] == ["imagenet"] and st["axis"] == "log"
    assert_same(as_map(points(page)), expected(ds, "H200:compile-fp16"))
    top, _ = manhattan_top(expected(ds, "H200:compile-fp16"), 0.5, 10)
    assert [(r["model"], r["img"]) for r in page.evaluate("__jb.ranking()")] == top
    assert page.evaluate("__jb.scale().xlog") is True
    assert page.locator("#table tbody tr").count() == 40
    assert page.locator("#bars li").count() == 10
    ids = [s["id"] for s in page.evaluate("__jb.setups()")]
    assert "H200:torch-fp32:sim" in ids and "A100:torch-fp32" in ids
    # every control is labelled (reachable and named for keyboard and screen-reader users)
    unlabeled = page.evaluate(
        "[...document.querySelectorAll('input,select')].filter(e => !e.labels || !e.labels.length).map(e => e.id)"
    )
    assert unlabeled == []
    # fits a 1366x768 screen: no horizontal scrolling, the scatter and the ranking side by side in view
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    box, bars = page.locator("#scatter").bounding_box(), page.locator("#bars").bounding_box()
    assert box["y"] + box["height"] <= 768 and bars["x"] > box["x"] + box["width"]
    assert page.problems == []


def test_file_url_works_offline(page, site, ds):
    open_app(page, (site["dir"] / "index.html").as_uri())
    assert len(points(page)) == len(expected(ds, "H200:compile-fp16"))
    assert page.problems == []


def test_setup_testsets_types_families_change_the_plot(page, site, ds):
    open_app(page, site["url"])
    page.select_option("#setup", "A100:tensorrt-fp16")
    assert_same(as_map(points(page)), expected(ds, "A100:tensorrt-fp16"))
    page.check("#ts-3")  # + sketch: averaged, and models without sketch drop out
    assert_same(as_map(points(page)), expected(ds, "A100:tensorrt-fp16", ("imagenet", "sketch")))
    page.uncheck("#ts-0")
    assert_same(as_map(points(page)), expected(ds, "A100:tensorrt-fp16", ("sketch",)))
    page.check("#ts-0")
    page.uncheck("#type-0")  # CNN
    got = points(page)
    assert got and all(p["type"] != "CNN" for p in got)
    assert_same(
        as_map(got),
        expected(
            ds, "A100:tensorrt-fp16", ("imagenet", "sketch"), types={"Transformer", "MLP", "Hybrid CNN-Transformer"}
        ),
    )
    page.check("#type-0")
    page.select_option("#families", ["vit", "mixer"])
    assert_same(as_map(points(page)), expected(ds, "A100:tensorrt-fp16", ("imagenet", "sketch"), fams={"vit", "mixer"}))
    page.click("#families-clear")
    assert len(points(page)) == len(expected(ds, "A100:tensorrt-fp16", ("imagenet", "sketch")))
    assert page.problems == []


def test_score_weight_thresholds_axis_topn(page, site, ds):
    open_app(page, site["url"], "#setup=H100:torch-fp32")
    exp = expected(ds, "H100:torch-fp32")
    for w in (0.0, 0.85):
        page.fill("#weight", str(w))  # range input: fill sets the value and fires input
        top, score = manhattan_top(exp, w, 10)
        ranking = page.evaluate("__jb.ranking()")
        assert [(r["model"], r["img"]) for r in ranking] == top
        assert all(math.isclose(r["score"], score[(r["model"], r["img"])], rel_tol=1e-5) for r in ranking)
    set_value(page, "#topn", 3)
    assert len(page.evaluate("__jb.ranking()")) == 3
    assert page.locator("#bars li").count() == 3
    # thresholds: only models inside rank, N is the largest energy among them
    set_value(page, "#amin", 75)
    set_value(page, "#emax", 200)
    inside = {k: v for k, v in exp.items() if v[1] >= 75 and v[0] <= 200}
    ranked = points(page, ranked_only=True)
    assert {(p["model"], p["img"]) for p in ranked} == set(inside)
    assert math.isclose(page.evaluate("__jb.scale().N_mj"), max(e for e, _ in inside.values()), rel_tol=1e-5)
    top, _ = manhattan_top(inside, 0.85, 3)
    assert [(r["model"], r["img"]) for r in page.evaluate("__jb.ranking()")] == top
    # accuracy per joule above the minimum accuracy
    page.select_option("#score", "apj")
    apj = {k: (a - 75) / e for k, (e, a) in inside.items()}
    assert [(r["model"], r["img"]) for r in page.evaluate("__jb.ranking()")] == sorted(apj, key=lambda k: -apj[k])[:3]
    assert page.locator("#weight-ctl").is_hidden()
    page.select_option("#axis", "linear")
    assert page.evaluate("__jb.scale().xlog") is False
    assert page.problems == []


def test_search_highlights(page, site):
    open_app(page, site["url"])
    page.fill("#search", "convnext_3")
    hits = [p["model"] for p in points(page) if p["hit"]]
    assert hits == ["convnext_3.test_in1k"]
    page.fill("#search", "LEVIT")  # family, case-insensitive
    assert {p["family"] for p in points(page) if p["hit"]} == {"levit"}
    assert page.locator("#table tbody tr.hit").count() == sum(p["hit"] for p in points(page))


def test_hover_tooltip_and_click_opens_model_panel_and_page(page, site):
    open_app(page, site["url"])
    target = max(points(page), key=lambda p: p["energy_mj"])  # the rightmost point is not overlapped
    page.mouse.move(target["cx"], target["cy"])
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    assert tip.locator(".t-name").text_content() == target["model"]
    assert page.evaluate("__jb.tooltip.img") == target["img"]
    assert "mJ/img" in tip.text_content() and "GMACs" in tip.text_content()
    # the test data's readings all imply 250 W (energy x throughput) on cards limited to 300 W
    assert "average power250 W (83 % of the 300 W limit)" in tip.text_content()
    # a click opens the model panel; its link is the model's page
    page.mouse.click(target["cx"], target["cy"])
    assert page.evaluate("__jb.panel().model") == target["model"]
    with page.expect_popup() as pop:
        page.click("#panel-url")
    popup = pop.value
    assert popup.url == f"https://huggingface.co/timm/{target['model']}"
    popup.close()


def test_url_state_round_trip(page, site, browser):
    open_app(page, site["url"])
    page.select_option("#setup", "A100:torch-fp32")
    page.check("#ts-2")
    page.select_option("#score", "apj")
    set_value(page, "#amin", 70)
    set_value(page, "#emax", 150)
    page.select_option("#axis", "linear")
    set_value(page, "#topn", 7)
    page.uncheck("#type-3")
    page.select_option("#families", ["resnet", "vit"])
    page.fill("#search", "vit_1")
    set_value(page, "#intensity", 55)
    page.click("#tab-compare")
    page.select_option("#cmp-a", "A100:torch-fp32")
    wait_js(page, "!window.__jb.urlPending")  # the URL follows the controls after a short debounce
    strip = "__jb.points().map(p => { delete p.cx; delete p.cy; return p; })"
    state, pts, url = page.evaluate("__jb.state()"), page.evaluate(strip), page.url
    assert "#" in url
    other = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    open_app(other, url)
    assert other.evaluate("__jb.state()") == state
    assert other.evaluate(strip) == pts
    assert other.locator("#view-compare").is_visible()
    assert other.input_value("#amin") == "70" and other.is_checked("#ts-2") and not other.is_checked("#type-3")
    other.context.close()


def test_compare_setups(page, site, ds):
    open_app(page, site["url"], "#v=compare&ca=A100:torch-fp32&cb=A100:tensorrt-fp16")
    cmp = page.evaluate("__jb.compare()")
    a = ds.energy[ds.energy.setup == "A100:torch-fp32"].set_index(["model", "img_size"])["energy_per_image_j"]
    b = ds.energy[ds.energy.setup == "A100:tensorrt-fp16"].set_index(["model", "img_size"])["energy_per_image_j"]
    common = a.index.intersection(b.index)
    gm = math.exp(sum(math.log(a[k] / b[k]) for k in common) / len(common))
    assert cmp["n"] == len(common) == 38
    assert math.isclose(cmp["geomean"], gm, rel_tol=1e-4)
    assert f"{gm:.3g}" in page.text_content("#cmp-summary")
    assert page.locator("#cmp-table tbody tr").count() == 38
    p0 = cmp["points"][0]
    page.mouse.move(p0["cx"], p0["cy"])
    page.locator("#tooltip").wait_for(state="visible")
    assert "reduction A/B" in page.text_content("#tooltip")


def test_table_sort_and_csv_download(page, site):
    open_app(page, site["url"])
    page.click("#table thead button[data-key='mj']")  # first click: descending
    names = page.evaluate("__jb.table()")
    energy = {p["model"] + str(p["img"]): p["energy_mj"] for p in points(page)}
    by_e = sorted(points(page), key=lambda p: -p["energy_mj"])
    assert names == [p["model"] for p in by_e]
    page.click("#table thead button[data-key='mj']")
    assert page.evaluate("__jb.table()") == names[::-1]
    assert page.get_attribute("#table thead th:nth-child(6)", "aria-sort") == "ascending"
    with page.expect_download() as dl:
        page.click("#download")
    text = Path(dl.value.path()).read_text()
    lines = text.strip().split("\n")
    assert lines[0].startswith("model,img_px,type,family,accuracy_pct,energy_mj_per_img,")  # units in the names
    assert len(lines) == 1 + len(energy)
    assert lines[1].split(",")[0] == names[-1]


def test_csv_upload_adds_points(page, site):
    open_app(page, site["url"])
    before = len(points(page))
    csv = (
        b"model,img_size,gpu_name,runtime,precision,energy_per_image_j,throughput_ips,latency_mean_s,optimal_batch,meter\n"
        b"resnet_2.test_in1k,224,NVIDIA H200,torch-fp16,fp16,0.0123,5000,0.01,64,nvml\n"
        b"vit_2.test_in1k,224,NVIDIA H200,torch-fp16,fp16,0.0456,3000,0.02,64,nvml\n"
        b"my_new_net.custom,224,NVIDIA H200,torch-fp16,fp16,0.0200,4000,0.02,64,nvml\n"
        b"mixer_1.test_in1k,224,NVIDIA H200,torch-fp16,fp16,0.0300,1000,0.02,64,sim\n"
        b"levit_1.test_in1k,224,NVIDIA H200,torch-fp16,fp16,,,,,nvml\n"
        b"levit_2.test_in1k,224,NVIDIA GeForce RTX 4090,torch-fp16,fp16,0.0100,1000,0.02,64,nvml\n"
    )
    upload(page, "mine.csv", csv)
    wait_js(page, "window.__jb.lastUpload && window.__jb.lastUpload.ok")
    pts = points(page)
    over = [p for p in pts if p["overlay"]]
    # my_new_net has no accuracy anywhere: it is listed but cannot be plotted
    assert len(pts) == before + 2 and {p["model"] for p in over} == {"resnet_2.test_in1k", "vit_2.test_in1k"}
    assert next(p for p in over if p["model"] == "vit_2.test_in1k")["energy_mj"] == pytest.approx(45.6)
    ids = {s["id"]: s for s in page.evaluate("__jb.setups()")}
    assert "H200:torch-fp16 [mine.csv]" in ids and ids["H200:torch-fp16:sim [mine.csv]"]["simulated"]
    assert "RTX4090:torch-fp16 [mine.csv]" in ids  # the dataset view's short GPU names
    msg = page.text_content("#msg")
    assert "Loaded 5 rows" in msg and "1 without a positive energy" in msg
    # choose the simulated upload: it is labelled in the points and the legend
    page.select_option("#setup", "H200:torch-fp16:sim [mine.csv]")
    sim = points(page)
    assert sim and all(p["simulated"] for p in sim if not p["overlay"])
    assert "SIMULATED" in page.text_content("#legend")
    # minimal form: model, energy, accuracy
    upload(page, "min.csv", b"model,energy_per_image_j,accuracy,status\nbrand_new.x,0.01,80.5,ok\nbroken.x,,,failed\n")
    wait_js(page, "window.__jb.lastUpload && window.__jb.lastUpload.setups[0] === 'uploaded [min.csv]'")
    assert "1 failed runs" in page.text_content("#msg")
    page.select_option("#setup", "uploaded [min.csv]")
    assert as_map(points(page)) == {("brand_new.x", 0): (pytest.approx(10.0), pytest.approx(80.5))}
    assert page.problems == []


def test_hostile_and_malformed_csv_are_refused_cleanly(page, site, tmp_path):
    open_app(page, site["url"])
    upload(page, "bad.csv", b"name,joules\nfoo,1\n")
    wait_js(page, "window.__jb.lastUpload && !window.__jb.lastUpload.ok")
    msg = page.text_content("#msg")
    assert "missing required column(s) model, energy_per_image_j" in msg
    assert page.get_attribute("#msg", "class") == "msg error"

    huge = tmp_path / "huge.csv"  # passed by path: the local browser reads it without a 5 MB transfer
    huge.write_bytes(b"model,energy_per_image_j\n" + b"x,1\n" * (5 * 1024 * 1024 // 4 + 1000))
    page.set_input_files("#upload", huge)
    wait_js(page, "document.getElementById('msg').textContent.includes('limit')")
    assert "limit is 5 MB" in page.text_content("#msg")

    evil = "<img src=x onerror=window.__pwned=1>"
    script = "<script>window.__pwned=2</script>"
    csv = f'model,energy_per_image_j,accuracy\n"{evil}",0.01,70\n{script},0.02,71\n'.encode()
    upload(page, "<b>evil</b>.csv", csv)
    wait_js(page, "window.__jb.lastUpload && window.__jb.lastUpload.ok")
    sid = page.evaluate("__jb.lastUpload.setups[0]")
    assert "<" not in sid  # file name sanitised
    page.select_option("#setup", sid)
    names = {p["model"] for p in points(page)}
    assert names == {evil, script}
    # the names are shown as text, nothing was created from them, nothing ran
    cells = page.eval_on_selector_all("#table td.model", "els => els.map(e => e.textContent)")
    assert set(cells) == {evil, script}
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main script, #bars img, #tooltip img").count() == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 2  # data.js and app.js only
    target = points(page)[0]
    page.mouse.move(target["cx"], target["cy"])
    page.locator("#tooltip").wait_for(state="visible")
    assert page.locator("#tooltip .t-name").text_content() in (evil, script)
    assert page.locator("#tooltip *:not(div):not(span)").count() == 0
    assert page.locator("#table tbody tr").count() == 2
    assert page.evaluate("window.__pwned") is None
    assert [p for p in page.problems if "pwned" in p] == []


def test_state_link_with_unknown_setup_falls_back(page, site):
    open_app(page, site["url"], "#setup=" + quote("B999:warp-fp4") + "&ts=nonsense&top=999")
    st = page.evaluate("__jb.state()")
    assert st["setup"] == "H200:compile-fp16" and st["ts"] == ["imagenet"] and st["top"] == 50
    assert "B999:warp-fp4" in page.text_content("#msg")
    assert set(TESTSETS) >= set(st["ts"])


@pytest.fixture(scope="module")
def suspect_site(tmp_path_factory):
    """The test dataset with one H100 FP32 reading five times too low, as in the paper's data."""
    ds = make_dataset()
    e = ds.energy.copy()
    bad = (e.setup == "H100:torch-fp32") & (e.model == "vit_2.test_in1k")
    e.loc[bad, "energy_per_image_j"] *= 0.2
    ds = ds._replace(energy=e)
    out = tmp_path_factory.mktemp("suspect-site")
    build_site(out, dataset=ds)
    return {"ds": ds, "url": (out / "index.html").as_uri()}


def test_suspect_readings_are_marked_and_explained(page, suspect_site):
    from joulebench.analysis.consistency import suspect_readings

    ds = suspect_site["ds"]
    want = suspect_readings(ds.energy, ds.catalogue)
    want = want[want.setup == "H100:torch-fp32"]
    assert "vit_2.test_in1k" in set(want.model)
    open_app(page, suspect_site["url"], "#setup=H100:torch-fp32")
    pts = {(p["model"], p["img"]): p for p in points(page)}
    flagged = {k for k, p in pts.items() if p["flag"]}
    assert flagged == {k for k in zip(want.model, want.img_size, strict=True) if k in pts}
    target = pts[("vit_2.test_in1k", 224)]
    assert "its energy on A100:torch-fp32" in target["flag"]
    assert f"orange squares: {len(flagged)} reading(s)" in page.text_content("#legend")
    page.mouse.move(target["cx"], target["cy"])
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    assert page.evaluate("__jb.tooltip.model") == "vit_2.test_in1k"
    assert "suspect reading: " + target["flag"] in tip.text_content()
    # the table marks the row and names the reason; the CSV carries it
    page.fill("#search", "vit_2.test_in1k")
    row = page.locator('#table tbody tr.hit:has(td.model[title^="vit_2.test_in1k"])')
    row.wait_for()
    assert "suspect" in row.get_attribute("class")
    assert "suspect reading: " + target["flag"] in row.locator("td.model").get_attribute("title")
    with page.expect_download() as dl:
        page.click("#download")
    lines = Path(dl.value.path()).read_text().strip().split("\n")
    assert lines[0].endswith(",setup,ranked,suspect")
    vit = [line for line in lines if line.startswith("vit_2.test_in1k,")]
    assert len(vit) == 1 and target["flag"].split(" (")[0] in vit[0]
    # the ranking marks it when it is ranked
    top = page.evaluate("__jb.ranking()")
    marked = page.locator("#bars li.suspect").count()
    assert marked >= 1 and marked == sum(1 for r in top if pts[(r["model"], r["img"])]["flag"])
    # the comparison view names the suspect side only: the reading implies a fifth of the power the A100's does,
    # so the consistency check clears the A100 reading (without throughput both sides would be marked)
    open_app(page, suspect_site["url"], "#v=compare&ca=A100:torch-fp32&cb=H100:torch-fp32")
    cmp = {p["model"]: p for p in page.evaluate("__jb.compare()")["points"]}
    page.mouse.move(cmp["vit_2.test_in1k"]["cx"], cmp["vit_2.test_in1k"]["cy"])
    tip.wait_for(state="visible")
    assert page.evaluate("__jb.tooltip.model") == "vit_2.test_in1k"
    assert "suspect B reading: " in tip.text_content() and "suspect A reading: " not in tip.text_content()
    assert "it implies" in tip.text_content()
    assert page.problems == []
