"""The web explorer: a static, self-contained site (HTML + JS + ``data.js``) built from the dataset view.

``build_payload`` turns a dataset into compact columnar JSON, ``build_site`` writes the site to a folder and
``serve`` serves a folder on localhost. Nothing here needs a server at run time: the site works from ``file://``.
"""

from joulebench.app.build import build_payload, build_site, write_site
from joulebench.app.server import serve

__all__ = ["build_payload", "build_site", "serve", "write_site"]
