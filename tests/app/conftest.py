"""The explorer in a real browser, shared by test_browser.py and test_explorer.py: a site built from the explorer
dataset (factories.py), served locally, Debian's Chromium driven by Playwright, and one fresh page per test."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from factories import make_batches, make_dataset
from joulebench.app.browser import CHROMIUM, launch_chromium
from joulebench.app.build import build_site


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        return


@pytest.fixture(scope="module")
def ds():
    return make_dataset()


@pytest.fixture(scope="module")
def site(tmp_path_factory, ds):
    out = tmp_path_factory.mktemp("site")
    build_site(out, dataset=ds, batches=make_batches(ds))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"dir": out, "url": f"http://127.0.0.1:{server.server_address[1]}/index.html"}
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, site):
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    # model pages open in a new tab; there is no network here, so answer them locally
    ctx.route("https://huggingface.co/**", lambda route: route.fulfill(body="model page", content_type="text/plain"))
    pg = ctx.new_page()
    pg.problems = []
    pg.on("console", lambda m: pg.problems.append(m.text) if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    yield pg
    ctx.close()
