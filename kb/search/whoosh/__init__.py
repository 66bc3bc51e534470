"""The Whoosh backend: the only package of kb that imports whoosh (checked by make lint)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kb.search.whoosh.backend import WhooshBackend


def open_backend(path: Path, settings: Mapping[str, Any]) -> WhooshBackend:
    return WhooshBackend(Path(path), settings)


__all__ = ["WhooshBackend", "open_backend"]
