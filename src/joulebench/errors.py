"""One error hierarchy: every message says what is wrong and how to fix it."""

from __future__ import annotations


class JoulebenchError(Exception):
    """Base class of every error joulebench raises on purpose.

    The CLI prints these as one line (``error: <message>``) and exits with ``exit_code``.
    """

    exit_code = 2


class ConfigError(JoulebenchError):
    """Bad user input: unknown names, contradictory flags, malformed files."""


class MeterError(JoulebenchError):
    """A meter cannot read energy here (no driver, MIG instance, unsupported counter...)."""


class StoreError(JoulebenchError):
    """The results database cannot be used (not joulebench's, newer schema, unwritable)."""


class MissingDependencyError(JoulebenchError):
    """An optional extra is not installed; the message names the pip command."""

    def __init__(self, package: str, extra: str, purpose: str):
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed: "
            f"run `pip install 'joulebench[{extra}]'`"
        )
