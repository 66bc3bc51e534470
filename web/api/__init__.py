"""The JSON API v1 (blueprint in web.api.blueprint); importing this package registers every
view module's routes on it."""
from __future__ import annotations

from web.api import documents, entities, meta, search, spec, validate  # noqa: F401  (routes register on bp)
from web.api.blueprint import bp

__all__ = ["bp"]
