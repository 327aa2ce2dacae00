"""Explorer speed in a real browser: first render and every control change on 2,000 models x 8 setups.

Builds a synthetic site (random but realistic-looking numbers; nothing here is a measurement of any model),
serves it on 127.0.0.1, drives Debian's Chromium through Playwright and reads the timings the app records
on ``window.__jb.timings`` with ``performance.now()``:

- ``first render``: from navigation start to the end of the first synchronous render (data.js parsed,
  controls built, scatter and ranking drawn; a table below the fold is drawn right after the first frame);
  ``first frame`` adds the browser's layout and paint of that frame.
- each control change: ``sync`` is the handler's own work (compute + draw), ``frame`` runs until the next
  frame has been produced (requestAnimationFrame + a task), i.e. what a person waits for. The script waits for
  that frame inside the page, so that its own polling does not load the page's main thread while it is timed.

``--throttle 4`` (the default) slows Chromium's CPU fourfold through the DevTools protocol
(``Emulation.setCPUThrottlingRate``), standing in for a weak laptop; ``--throttle 1`` runs at full speed.

Usage: ``python benchmarks/app_perf.py [--models 2000] [--setups 8] [--repeat 5] [--throttle 4]``; writes JSON
to ``$OUT/app_perf.json`` when ``$OUT`` is set. ``--screenshots docs/img`` instead saves the pictures in the
README and docs/APP.md (explorer.png, model-panel.png, compare.png) of the real dataset at 1366x768.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import namedtuple
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from joulebench.app.browser import launch_chromium  # noqa: E402
from joulebench.app.build import build_site  # noqa: E402
from joulebench.data import TESTSETS  # noqa: E402

Dataset = namedtuple("Dataset", "energy accuracy catalogue")
TYPES = ("CNN", "Transformer", "Hybrid CNN-Transformer", "MLP")


def synthetic(n_models: int, n_setups: int, seed: int = 0) -> Dataset:
    """A dataset shaped like the real one: n models, n setups (some models missing per setup), 8 test sets."""
    rng = np.random.default_rng(seed)
    gpus = ["A100", "H100", "H200", "B200"]
    runtimes = ["torch-fp32", "tensorrt-fp16"]
    setups = [(g, r) for g in gpus for r in runtimes][:n_setups]
    fams = [f"fam{k}" for k in range(120)]
    names = [f"{fams[k % 120]}_{k}.synthetic" for k in range(n_models)]
    base = np.exp(rng.uniform(np.log(0.0005), np.log(5.0), n_models))
    top1 = 50 + 40 * rng.random(n_models)
    energy = []
    for s_ix, (g, r) in enumerate(setups):
        keep = rng.random(n_models) > 0.03
        e = base / (1 + s_ix * 0.4) * rng.uniform(0.8, 1.2, n_models)
        energy.append(
            pd.DataFrame(
                dict(
                    model=np.array(names)[keep],
                    img_size=224,
                    gpu=g,
                    runtime=r,
                    precision=r[-4:],
                    setup=f"{g}:{r}",
                    source="synthetic",
                    energy_per_image_j=e[keep],
                    throughput_ips=250 / e[keep],
                    latency_s=0.01 + e[keep],
                    batch_size=64,
                    max_batch=512,
                    power_limit_w=300.0,
                )
            )
        )
    acc = pd.DataFrame(
        [
            dict(model=m, img_size=224, testset=t, top1=top1[k] - 3 * j * rng.random(), top5=None)
            for k, m in enumerate(names)
            for j, t in enumerate(TESTSETS)
        ]
    )
    cat = pd.DataFrame(
        dict(
            model=names,
            arch=[m.split(".")[0] for m in names],
            tag="synthetic",
            img_size=224,
            type=[TYPES[k % 4] for k in range(n_models)],
            family=[fams[k % 120] for k in range(n_models)],
            year=2015 + np.arange(n_models) % 10,
            pretrain="in1k",
            url=[f"https://example.org/{m}" for m in names],
            params=rng.uniform(1e6, 3e8, n_models),
            macs=rng.uniform(1e8, 1e11, n_models),
            activations=1e7,
        )
    )
    return Dataset(pd.concat(energy, ignore_index=True), acc, cat)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        return


def wait_js(pg, expr: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pg.evaluate(f"!!({expr})"):
        if time.monotonic() > deadline:
            raise TimeoutError(expr)
        pg.wait_for_timeout(5)


# Waits inside the page for the change's frame: polling over the DevTools protocol every few ms would run script
# on the page's main thread while it draws, and slow down what is being timed.
_FRAME_DONE = """n => new Promise(done => {
  const t0 = performance.now();
  (function wait() {
    const t = __jb.timings;
    if (t.changes.length > n && !Number.isNaN(t.last.frame_ms)) done(true);
    else if (performance.now() - t0 > 30000) done(false);
    else setTimeout(wait, 10);
  })();
})"""


def change(pg, action) -> dict:
    """Run one control change; return the app's own timing record once its frame is done."""
    before = pg.evaluate("__jb.timings.changes.length")
    action()
    if not pg.evaluate(_FRAME_DONE, before):
        raise TimeoutError("no frame recorded")
    return pg.evaluate("__jb.timings.last")


def wheel_zoom(pg) -> None:
    """One wheel notch up over the middle of the scatter (zoom in)."""
    pg.locator("#scatter").scroll_into_view_if_needed()
    box = pg.locator("#scatter").bounding_box()
    pg.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    pg.mouse.wheel(0, -120)


def control_actions(pg, k: int, setups: list[str]) -> dict:
    """The control changes to time, as callables on page ``pg`` (``k`` varies the values between runs)."""
    return {
        "setup": lambda: pg.select_option("#setup", setups[k % len(setups)]),
        "test sets (+1)": lambda: pg.check("#ts-3"),
        "test sets (-1)": lambda: pg.uncheck("#ts-3"),
        "score": lambda: pg.select_option("#score", "apj"),
        "score back": lambda: pg.select_option("#score", "manhattan"),
        "weight": lambda: pg.fill("#weight", str(0.1 + 0.1 * k)),
        "min accuracy": lambda: pg.fill("#amin", str(60 + k)),
        "max energy": lambda: pg.fill("#emax", str(500 + 100 * k)),
        "axis": lambda: pg.select_option("#axis", "linear" if k % 2 else "log"),
        "top models": lambda: pg.fill("#topn", str(5 + k)),
        "types": lambda: pg.uncheck("#type-1"),
        "families": lambda: pg.select_option("#families", [f"fam{k}", f"fam{k + 7}"]),
        "families clear": lambda: pg.click("#families-clear"),
        "search": lambda: pg.fill("#search", f"fam{2 * k}_"),  # an even family: not of the type unticked above
        "carbon intensity": lambda: pg.fill("#intensity", str(100 + k)),
        "currency": lambda: pg.select_option("#currency", "EUR" if k % 2 else "GBP"),
        "table sort": lambda: pg.click("#table thead button[data-key='mj']"),
        "zoom (wheel)": lambda: wheel_zoom(pg),
        "zoom reset": lambda: pg.click("#zoom-reset"),
        "model panel": lambda: pg.click("#bars a.model-link >> nth=0"),
        "panel close": lambda: pg.click("#panel-close"),
        "compare tab": lambda: pg.click("#tab-compare"),
        "compare setup B": lambda: pg.select_option("#cmp-b", setups[(k + 3) % len(setups)]),
        "explorer tab": lambda: pg.click("#tab-explorer"),
    }


def screenshots(out_dir: Path) -> None:
    """The pictures of the docs at 1366x768, from the real dataset: the explorer, the model panel, the comparison."""
    from playwright.sync_api import sync_playwright

    site = Path(tempfile.mkdtemp(prefix="jb-app-shots-"))
    build_site(site)  # the shipped reference data, the shipped own results (and ./joulebench.db's if present)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = (site / "index.html").as_uri()
    with sync_playwright() as p:
        browser = launch_chromium(p)
        pg = browser.new_page(viewport={"width": 1366, "height": 768})
        # joulebench's own H200 compile-fp16 results zoomed to the region one decides in (at least 80 % top-1,
        # at most 60 mJ per image)
        pg.goto(index + "#setup=H200:compile-fp16&amin=80&emax=60")
        wait_js(pg, "window.__jb && window.__jb.ready")
        pg.click("#zoom-thresholds")
        top = pg.evaluate("__jb.ranking()")[0]
        pt = next(x for x in pg.evaluate("__jb.points()") if x["model"] == top["model"] and x["img"] == top["img"])
        pg.screenshot(path=str(out_dir / "explorer.png"))
        pg.mouse.click(pt["cx"], pt["cy"])  # the model panel of the best-ranked model
        wait_js(pg, "__jb.panel() !== null")
        # scrolled to the setups table and the batch curve
        pg.evaluate("(p => p.scrollTop = p.querySelector('h3:nth-of-type(2)').offsetTop - 48)(document.all.panel)")
        pg.mouse.move(5, 300)
        pg.wait_for_timeout(100)
        pg.screenshot(path=str(out_dir / "model-panel.png"))
        setups = [s["id"] for s in pg.evaluate("__jb.setups()")]
        a, b = ("A100:torch-fp32", "A100:tensorrt-fp16") if "A100:tensorrt-fp16" in setups else setups[:2]
        pg.goto(index + f"#v=compare&ca={a}&cb={b}")
        pg.reload()
        wait_js(pg, "window.__jb && window.__jb.ready")
        pg.screenshot(path=str(out_dir / "compare.png"))
        browser.close()
    print(f"wrote explorer.png, model-panel.png and compare.png in {out_dir}")


def run_pages(url: str, setups: list[str], repeat: int, throttle: float) -> dict:
    """Load the page ``repeat`` times in Chromium and time its first render and every control change."""
    from playwright.sync_api import sync_playwright

    rows: dict[str, list[dict]] = {}
    loads = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        for k in range(1, repeat + 1):
            pg = browser.new_page(viewport={"width": 1366, "height": 768})
            if throttle != 1:
                pg.context.new_cdp_session(pg).send("Emulation.setCPUThrottlingRate", {"rate": throttle})
            pg.goto(url)
            wait_js(pg, "window.__jb && window.__jb.ready")
            loads.append(pg.evaluate("({first: __jb.timings.firstRender, frame: __jb.timings.firstFrame})"))
            n_points = pg.evaluate("__jb.points().length")
            for name, act in control_actions(pg, k, setups).items():
                try:
                    rows.setdefault(name, []).append(change(pg, act))
                except TimeoutError:
                    errors = pg.evaluate("__jb.errors")
                    raise SystemExit(f"the control change '{name}' was not recorded: {errors}") from None
            errors = pg.evaluate("__jb.errors")
            if errors:
                raise SystemExit(f"page errors: {errors}")
            pg.close()
        version = browser.version
        browser.close()
    return {"loads": loads, "rows": rows, "points": n_points, "chromium": version}


def report(args: argparse.Namespace, run: dict, size_kb: float, load_before: float, load_after: float) -> dict:
    """Print the table (min, median, max of sync and frame times) and return the JSON record."""
    print(
        f"explorer speed: {args.models} models x {args.setups} setups ({run['points']} points on the first view), "
        f"data.js {size_kb:.0f} KiB, Chromium {run['chromium']} headless, {os.cpu_count()} CPUs, "
        f"CPU throttled {args.throttle:g}x, {args.repeat} runs"
    )
    print(
        f"load average during the run: {load_before:.1f} before, {load_after:.1f} after "
        "(other work on the machine inflates wall times; min is the least disturbed run)"
    )
    head = ("what", "sync min", "median", "max", "frame min", "median", "max")
    print(f"{head[0]:<18}" + "".join(f"{h:>10}" for h in head[1:]))

    def line(name, a, b):
        med = statistics.median
        print(f"{name:<18}" + "".join(f"{v:>10.1f}" for v in (min(a), med(a), max(a), min(b), med(b), max(b))))

    first = [x["first"] for x in run["loads"]]
    frame = [x["frame"] for x in run["loads"]]
    line("first render", first, frame)
    result = {
        "models": args.models,
        "setups": args.setups,
        "points": run["points"],
        "data_kib": size_kb,
        "chromium": run["chromium"],
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "throttle": args.throttle,
        "load_avg": [load_before, load_after],
        "first_render_ms": first,
        "first_frame_ms": frame,
        "changes": {},
    }
    for name, recs in run["rows"].items():
        s, f = [r["sync_ms"] for r in recs], [r["frame_ms"] for r in recs]
        line(name, s, f)
        result["changes"][name] = {"sync_ms": s, "frame_ms": f}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=2000)
    ap.add_argument("--setups", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--throttle", type=float, default=4.0, help="CPU slow-down factor (1 = none)")
    ap.add_argument("--screenshots", type=Path, help="instead: save the docs' pictures of the real data here")
    args = ap.parse_args()
    if args.screenshots:
        screenshots(args.screenshots)
        return
    ds = synthetic(args.models, args.setups)
    out = Path(tempfile.mkdtemp(prefix="jb-app-perf-"))
    build_site(out, dataset=ds)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    run = run_pages(url, sorted(ds.energy.setup.unique()), args.repeat, args.throttle)
    server.shutdown()
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    result = report(args, run, (out / "data.js").stat().st_size / 1024, load_before, load_after)
    if os.environ.get("OUT"):
        path = Path(os.environ["OUT"]) / "app_perf.json"
        path.write_text(json.dumps(result, indent=1))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
