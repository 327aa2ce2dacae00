"""The root ``joulebench`` application and its entry point; each command lives in a module of this package."""

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

# One module per command (or command group), each with ``register(app)``, in the order of ``--help``.
# Heavy imports (torch, pandas, rich) stay inside the command functions so that ``--help`` stays fast.
COMMAND_MODULES = (
    "info",
    "meter",
    "results",
    "export",
    "import_bundle",
    "measure",
    "models",
    "show",
    "stats",
    "data",
    "estimate",
    "rank",
    "frontier",
    "compare",
    "consistency",
    "report",
    "paper",
    "panel",
    "explorer",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"joulebench.cli.{_name}").register(app)


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
