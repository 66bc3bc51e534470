"""The server-rendered pages (blueprint in web.ui.blueprint); importing this package
registers every view module's routes on it."""
from __future__ import annotations

from web.ui import curation, views  # noqa: F401  (routes register on bp)
from web.ui.blueprint import bp

__all__ = ["bp"]
