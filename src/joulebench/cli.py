"""The ``joulebench`` command line: a thin shell over the packages; each command lives in ``commands/``."""

from __future__ import annotations

import importlib
import sys

import typer

from joulebench.errors import JoulebenchError

app = typer.Typer(
    name="joulebench",
    help="Measure energy per inference on real accelerators and choose models by accuracy per joule.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module defines ``register(app)``; heavy imports stay inside the command functions.
COMMAND_MODULES = (
    "joulebench.commands.info",
    "joulebench.commands.meter",
    "joulebench.commands.results",
    "joulebench.commands.import_bundle",
    "joulebench.commands.measure",
    "joulebench.commands.models",
    "joulebench.commands.data",
    "joulebench.commands.analysis",
    "joulebench.commands.paper",
    "joulebench.commands.panel",
    "joulebench.commands.app",
)

for _mod in COMMAND_MODULES:
    importlib.import_module(_mod).register(app)


def _print_version(value: bool) -> None:
    # a parameter callback runs while the arguments are parsed, before the group asks for a command
    if value:
        from joulebench import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """Measure energy per inference on real accelerators and choose models by accuracy per joule."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning joulebench errors into one-line messages."""
    try:
        rc = app(args=argv, standalone_mode=False)
    except JoulebenchError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:
        # Usage errors (click's, or the copy of click that newer typer vendors) print themselves.
        if any(c.__name__ == "ClickException" for c in type(e).__mro__):
            e.show()
            sys.exit(e.exit_code)
        raise
    if isinstance(rc, int) and rc:  # typer.Exit(code) is returned, not raised, without standalone mode
        sys.exit(rc)
