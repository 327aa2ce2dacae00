"""What resolution reads from timm for each exact name, kept on disk per timm installation.

Resolving a name reads timm's registry, and importing timm imports torch and torchvision: about 5 s on a two-core
machine, which a sweep's driver would pay only to learn a name's key, since its worker subprocess imports timm again
to build the model. What resolution takes from timm for one exact name is small (architecture, pretrained tag, input
sizes) and fixed for one timm release. Two tables hold it, read without importing timm:

* the package's ``data/timm_names.csv.gz``: every architecture and pretrained tag of the timm release the package
  was built with (``python3 -m joulebench.models.name_cache`` writes it from the installed timm), used when the
  installed timm is that release, so that a first run needs no timm either;
* ``timm-names-VERSION.json`` in joulebench's cache folder (``$JOULEBENCH_CACHE`` or ``~/.cache/joulebench``): the
  names :func:`joulebench.models.resolve.resolve_models` read from timm itself, for the installation it read them
  from (version and location; another installation's file is not read).

Globs, unknown names and wrong tags always go to timm.
"""

from __future__ import annotations

import csv
import functools
import gzip
import importlib.metadata
import importlib.util
import io
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from joulebench.models.stats import cache_dir

#: Every exact name's facts, from the timm release the package was built with.
SHIPPED_NAMES = Path(__file__).resolve().parents[1] / "data" / "timm_names.csv.gz"
_COLUMNS = ("name", "arch", "tag", "input_size", "test_input_size", "timm_version")


def timm_installation() -> tuple[str, str] | None:
    """``(version, folder)`` of the timm that ``import timm`` would load, found without importing it.

    Returns:
        None when timm is not installed, or has no package metadata to tell its version by.
    """
    spec = importlib.util.find_spec("timm")
    if spec is None or spec.origin is None:
        return None
    try:
        version = importlib.metadata.version("timm")
    except importlib.metadata.PackageNotFoundError:
        return None
    return version, str(Path(spec.origin).resolve().parent)


def _size(text: str) -> list[int] | None:
    return [int(s) for s in text.split("x")] if text else None


def _size_text(size: list[int] | None) -> str:
    return "x".join(str(s) for s in size) if size else ""


@functools.lru_cache(maxsize=2)
def shipped_names(path: Path = SHIPPED_NAMES) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The timm release of the shipped table and its names' facts (``(None, {})`` without the file)."""
    if not path.is_file():
        return None, {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    names = {
        r["name"]: {
            "arch": r["arch"],
            "tag": r["tag"] or None,
            "input_size": _size(r["input_size"]),
            "test_input_size": _size(r["test_input_size"]),
        }
        for r in rows
    }
    return (rows[0]["timm_version"] if rows else None), names


def write_shipped_names(path: Path = SHIPPED_NAMES) -> int:
    """Write the facts of every architecture and pretrained tag of the installed timm to ``path``; return how many.

    Raises:
        MissingDependencyError: timm is not installed.
    """
    from joulebench.models.resolve import _timm, _timm_facts

    timm = _timm()
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(_COLUMNS)
    names = sorted(set(timm.list_models()) | set(timm.list_pretrained()))
    for name in names:
        f = _timm_facts(name)
        size, test = _size_text(f["input_size"]), _size_text(f["test_input_size"])
        w.writerow([name, f["arch"], f["tag"] or "", size, test, timm.__version__])
    path.write_bytes(gzip.compress(out.getvalue().encode("utf-8"), mtime=0))  # same bytes for the same timm
    shipped_names.cache_clear()
    return len(names)


class NameCache:
    """The facts of one timm installation's names: the shipped table's, and those this user's runs read from timm.

    The user's file is read once and written back by :meth:`save` when names were added.

    Args:
        path: The cache file, or None to cache nothing (timm is not installed).
        installation: From :func:`timm_installation`; a file written for another one is not read.
        shipped: The shipped table's names, when it was read from this timm release (else empty).
    """

    def __init__(
        self,
        path: Path | None,
        installation: tuple[str, str] | None,
        shipped: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.path = path
        self.installation = list(installation) if installation else None
        self.shipped = shipped or {}
        self.names: dict[str, dict[str, Any]] = self._read()
        self.added = False

    @classmethod
    def for_installed_timm(cls) -> NameCache:
        """The names of the installed timm (an inert cache when timm is missing: resolution then says so)."""
        installation = timm_installation()
        if installation is None:
            return cls(None, None)
        release, shipped = shipped_names(SHIPPED_NAMES)
        path = cache_dir() / f"timm-names-{installation[0]}.json"
        return cls(path, installation, shipped if release == installation[0] else None)

    def _read(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):  # unreadable or cut short: every name is read from timm again and rewritten
            return {}
        if not isinstance(data, dict) or data.get("timm") != self.installation:
            return {}
        names = data.get("names")
        return dict(names) if isinstance(names, dict) else {}

    def get(self, name: str) -> dict[str, Any] | None:
        """The facts of ``name`` read from this timm before (by this user, or for the package), or None."""
        facts = self.names.get(name) or self.shipped.get(name)
        return dict(facts) if isinstance(facts, dict) else None

    def put(self, name: str, facts: dict[str, Any]) -> None:
        """Keep the facts of ``name`` just read from timm (written by :meth:`save`)."""
        if self.path is not None and self.names.get(name) != facts:
            self.names[name] = dict(facts)
            self.added = True

    def save(self) -> None:
        """Write the file if names were added, merged with what another process wrote meanwhile, atomically.

        A cache that cannot be written is said in a warning; resolution does not depend on it.
        """
        if not self.added or self.path is None:
            return
        merged = {**self._read(), **self.names}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump({"timm": self.installation, "names": merged}, f, sort_keys=True)
                os.replace(tmp, self.path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as e:
            warnings.warn(f"cannot write the timm name cache {self.path}: {e}", stacklevel=2)
            return
        self.names, self.added = merged, False


def main() -> None:
    """``python3 -m joulebench.models.name_cache``: write the package's table from the installed timm."""
    count = write_shipped_names()
    print(f"wrote {SHIPPED_NAMES}: {count} names", file=sys.stderr)


__all__ = ["SHIPPED_NAMES", "NameCache", "shipped_names", "timm_installation", "write_shipped_names"]

if __name__ == "__main__":
    main()
