"""Helpers that drive the explorer page in a browser and compute what it should show (used by tests/app/)."""

from __future__ import annotations

import math
import time


def wait_js(pg, expr, timeout_s=10.0):
    """Poll a JS expression until truthy (wait_for_function needs eval, which the site's CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while not pg.evaluate(f"!!({expr})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expr}")
        pg.wait_for_timeout(20)


def open_app(pg, url, hash_=""):
    pg.goto(url + hash_)
    wait_js(pg, "window.__jb && window.__jb.ready && !window.__jb.pending")
    assert pg.evaluate("__jb.errors") == []


def points(pg, ranked_only=False):
    wait_js(pg, "!window.__jb.pending")  # a table out of view is redrawn just after the change's frame
    pts = pg.evaluate("__jb.points()")
    return [p for p in pts if p["ranked"]] if ranked_only else pts


def expected(ds, setup, testsets=("imagenet",), types=None, fams=None):
    """Model configuration -> (energy mJ, mean accuracy) for what the page should plot."""
    e = ds.energy[ds.energy.setup == setup]
    acc = ds.accuracy[ds.accuracy.testset.isin(testsets)].groupby(["model", "img_size"])["top1"].agg(["mean", "count"])
    cat = ds.catalogue.set_index(["model", "img_size"])
    out = {}
    for r in e.itertuples():
        key = (r.model, r.img_size)
        if key not in acc.index or acc.loc[key, "count"] != len(testsets):
            continue
        if types is not None and cat.loc[key, "type"] not in types:
            continue
        if fams is not None and cat.loc[key, "family"] not in fams:
            continue
        out[key] = (r.energy_per_image_j * 1e3, acc.loc[key, "mean"])
    return out


def manhattan_top(exp, w, top):
    n = max(e for e, _ in exp.values())
    score = {k: 100 - (w * 100 * e / n + (1 - w) * (100 - a)) for k, (e, a) in exp.items()}
    return sorted(score, key=lambda k: -score[k])[:top], score


def as_map(pts):
    return {(p["model"], p["img"]): (p["energy_mj"], p["acc"]) for p in pts if not p["overlay"]}


def assert_same(got, exp):
    assert set(got) == set(exp)
    for k, (e, a) in exp.items():
        assert math.isclose(got[k][0], e, rel_tol=1e-5) and math.isclose(got[k][1], a, rel_tol=1e-5), k


def set_value(pg, sel, value):
    pg.fill(sel, str(value))
    wait_js(pg, "window.__jb.timings.last !== undefined")


def upload(page, name, content: bytes):
    """Choose ``content`` as the CSV file ``name`` in the page's upload control."""
    page.set_input_files("#upload", files=[{"name": name, "mimeType": "text/csv", "buffer": content}])
