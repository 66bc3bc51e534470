"""Open a search service over a backend for tests: the contract suite runs against every
backend listed in BACKENDS (Whoosh always; OpenSearch when a cluster is given)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kb.search.service import SearchService
from kb.search.whoosh import open_backend as open_whoosh

Resolver = Callable[[str], list[tuple[str, str]]]
BACKENDS = ("whoosh",)


def open_index(path: Path, settings: Mapping[str, Any], resolver: Resolver | None = None,
               backend: str = "whoosh") -> SearchService:
    """A search service over a `backend` index at `path` (Whoosh: the folder)."""
    if backend != "whoosh":
        raise ValueError(f"no test opener for backend {backend!r}")
    return SearchService(open_whoosh(Path(path), settings), settings, resolver)
