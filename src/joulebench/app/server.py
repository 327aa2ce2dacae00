"""Serve a built explorer site on localhost with the standard library's http.server."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from joulebench.errors import ConfigError


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files only, no request log on stderr, no caching (a rebuilt site shows at once)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        return

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()


def make_server(site_dir: str | Path, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Create (not start) an HTTP server for ``site_dir``.

    Args:
        site_dir: Folder holding ``index.html``.
        host: Address to bind; 127.0.0.1 keeps the site on this machine.
        port: TCP port; 0 picks a free one (read it from ``server.server_address``).

    Raises:
        ConfigError: The folder has no site, or the address cannot be bound.
    """
    root = Path(site_dir)
    if not (root / "index.html").is_file():
        raise ConfigError(f"'{root}' holds no index.html: build the site first with `joulebench app build DIR`")
    handler = functools.partial(_QuietHandler, directory=str(root))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror}): pick another --port or --host") from None


def server_url(server: ThreadingHTTPServer) -> str:
    """The http:// URL of a server's index page."""
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    return f"http://{shown}:{port}/"


def serve(
    site_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    open_browser: bool = True,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``site_dir`` until interrupted (Ctrl-C).

    Args:
        site_dir: Folder holding the built site.
        host: Address to bind.
        port: TCP port; 0 picks a free one.
        open_browser: Open the URL in the default browser once listening.
        on_ready: Called with the URL once listening (the CLI prints it).
    """
    server = make_server(site_dir, host, port)
    url = server_url(server)
    if on_ready is not None:
        on_ready(url)
    if open_browser:
        import webbrowser

        threading.Timer(0.2, webbrowser.open, args=(url,)).start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
