"""docs/ARCHITECTURE.md stays true: it names every package and top-level module, and every file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "joulebench"
PAGE = ROOT / "docs" / "ARCHITECTURE.md"

# a backticked file or folder of the package: `sweep/`, `meters/nvml.py`, `registry.py`, `app/static/js/scatter.js`
# files the explorer's build writes (they exist only in a built site)
GENERATED = {"data.js", "app.js"}
NAMED_PATH = re.compile(r"`((?:[a-z_]+/)*[a-z_][a-z_0-9-]*(?:\.(?:py|js|html|csv|css)|/))`")


def _packages() -> list[str]:
    return sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))


def _modules() -> list[str]:
    return sorted(p.name for p in PACKAGE.glob("*.py") if not p.name.startswith("__"))


def test_every_package_and_top_level_module_is_named():
    text = PAGE.read_text(encoding="utf-8")
    missing = [f"{p}/" for p in _packages() if f"`{p}/" not in text]
    missing += [m for m in _modules() if f"`{m}`" not in text]
    assert not missing, f"docs/ARCHITECTURE.md does not name: {', '.join(missing)}"


def test_every_file_it_names_exists():
    text = PAGE.read_text(encoding="utf-8")
    names = set(NAMED_PATH.findall(text))
    assert names, "the page names no files"
    inside = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*") if "__pycache__" not in p.parts}
    gone = [
        name
        for name in sorted(names - GENERATED)
        if not (ROOT / name).exists()
        and not any(r == name.rstrip("/") or r.endswith("/" + name.rstrip("/")) for r in inside)
    ]
    assert not gone, f"docs/ARCHITECTURE.md names files that do not exist: {', '.join(gone)}"
