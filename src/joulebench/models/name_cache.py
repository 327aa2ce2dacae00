"""What resolution reads from timm for each exact name, kept on disk per timm installation.

Resolving a name reads timm's registry, and importing timm imports torch and torchvision: about 5 s on a two-core
machine, which a sweep's driver would pay only to learn a name's key, since its worker subprocess imports timm again
to build the model. What resolution takes from timm for one exact name is small (architecture, pretrained tag, input
sizes) and fixed for one timm installation, so :func:`joulebench.models.resolve.resolve_models` keeps it in
``timm-names-VERSION.json`` in joulebench's cache folder (``$JOULEBENCH_CACHE`` or ``~/.cache/joulebench``) and reads
it back without importing timm. The file names the installation it was read from (version and location): another
installation's facts are read again from timm. Globs, unknown names and wrong tags always go to timm.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from joulebench.models.stats import cache_dir


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


class NameCache:
    """The cached facts of one timm installation's names: read once, written back by :meth:`save` when added to.

    Args:
        path: The cache file, or None to cache nothing (timm is not installed).
        installation: From :func:`timm_installation`; a file written for another one is not read.
    """

    def __init__(self, path: Path | None, installation: tuple[str, str] | None) -> None:
        self.path = path
        self.installation = list(installation) if installation else None
        self.names: dict[str, dict[str, Any]] = self._read()
        self.added = False

    @classmethod
    def for_installed_timm(cls) -> NameCache:
        """The cache of the installed timm (an inert one when timm is missing: resolution then says so)."""
        installation = timm_installation()
        if installation is None:
            return cls(None, None)
        return cls(cache_dir() / f"timm-names-{installation[0]}.json", installation)

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
        """The facts of ``name`` read from this timm before, or None."""
        facts = self.names.get(name)
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


__all__ = ["NameCache", "timm_installation"]
