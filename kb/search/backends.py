"""Which search backend a KB home uses: the declared setting `search_backend`."""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any

from kb.errors import InvalidInputError
from kb.search.service import SearchService
from kb.search.types import SearchBackend

Resolver = Callable[[str], list[tuple[str, str]]]
BACKENDS = ("whoosh", "opensearch")


def open_backend(settings: Mapping[str, Any]) -> SearchBackend:
    name = str(settings.get("search_backend") or "whoosh")
    home = Path(settings["home"])
    if name == "whoosh":
        from kb.search import whoosh

        return whoosh.open_backend(home / "index", settings)
    if name == "opensearch":
        from kb.search import opensearch

        return opensearch.open_backend(settings)
    raise InvalidInputError(f"search_backend must be one of {', '.join(BACKENDS)}, not {name!r}")


def open_service(settings: Mapping[str, Any], resolver: Resolver | None = None,
                 state: Callable[[], Hashable] | None = None) -> SearchService:
    return SearchService(open_backend(settings), settings, resolver, state)
