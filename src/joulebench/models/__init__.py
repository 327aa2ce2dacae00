"""Model resolution (names, tags, globs, custom factories), catalogue and statistics.

Submodules are imported on use (``from joulebench.models.resolve import resolve_models``) so that importing
this package stays free of torch and timm.
"""
