"""The ``joulebench`` command line: a thin shell over the packages, one module per command.

``entry`` builds the application from the command modules; ``options`` holds the options and parsers that
several commands share, ``loading`` where they get their data, ``display`` how they print.
"""

from joulebench.cli.entry import app, main

__all__ = ["app", "main"]
