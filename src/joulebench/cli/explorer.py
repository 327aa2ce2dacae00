"""``joulebench app``: serve the web explorer; ``joulebench app build DIR``: write it as a static site."""

from __future__ import annotations

from pathlib import Path

import typer

from joulebench.cli.options import DbOpt, results_file

app_group = typer.Typer(
    help="The web explorer: accuracy against energy per image for every setup, reference and your own.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app_group.callback()
def serve_cmd(
    ctx: typer.Context,
    db: Path | None = DbOpt,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="TCP port; 0 picks a free one."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser; just print the URL."),
) -> None:
    """Build the explorer into a temporary folder and serve it (Ctrl-C stops)."""
    if ctx.invoked_subcommand is not None:
        return
    import signal

    from joulebench.app.build import build_site
    from joulebench.app.server import serve

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops like Ctrl-C, so the temporary site is removed

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        _build_and_serve(build_site, serve, db, host, port, no_browser)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _build_and_serve(build_site, serve, db: Path | None, host: str, port: int, no_browser: bool) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="joulebench-app-") as tmp:
        build_site(tmp, db=results_file(db))

        def ready(url: str) -> None:
            typer.echo(f"joulebench explorer at {url}  (Ctrl-C stops)")

        try:
            serve(tmp, host=host, port=port, open_browser=not no_browser, on_ready=ready)
        except KeyboardInterrupt:
            typer.echo("stopped")


@app_group.command("build")
def build_cmd(
    out_dir: Path = typer.Argument(..., help="Folder to write the site into (created if missing)."),
    db: Path | None = DbOpt,
) -> None:
    """Write the explorer as a static, self-contained site (works offline from file:// or any static host)."""
    from joulebench.app.build import build_site

    index = build_site(out_dir, db=results_file(db))
    typer.echo(f"wrote {index} (open it in a browser, or copy the folder to any static host)")


def register(app: typer.Typer) -> None:
    """Attach ``app`` (serve) and ``app build`` to the CLI."""
    app.add_typer(app_group, name="app")
