"""The headless Chromium that drives the explorer, in one place for the browser tests and benchmarks/app_perf.py.

Playwright drives Debian's Chromium (``apt-get install chromium``) rather than a browser of its own, which it would
have to download. Nothing here imports Playwright: the caller passes its own ``sync_playwright()`` object, so
importing this module needs no browser extra.
"""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium, the browser Playwright launches."""

LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",  # containers and CI run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    # no network here: keep Chromium from phoning home (updates, sync, first-run pages) while pages are timed
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
"""The command-line switches Chromium is launched with."""


def launch_chromium(playwright: Any) -> Any:
    """Launch Debian's headless Chromium.

    Args:
        playwright: the object ``playwright.sync_api.sync_playwright()`` enters.

    Returns:
        The Playwright ``Browser``; the caller closes it.
    """
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(LAUNCH_ARGS))
