"""Shapes shared by every search backend, the facade, the CLI, the UI and the API."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

# Facet / filter fields, in display order. Entity fields hold canonical ids.
FACET_FIELDS = ("country", "region", "org", "person", "topic", "type", "year", "lang", "collection")

# One passage as handed to the index by the catalog (kb.store.Catalog.index_records).
# Keys: id, doc_id, ordinal, text, title, heading (heading path joined with " › "), path,
# source_id, format (as `type`), year (int|None), lang, event, page_start, page_end,
# country/region/org/person/topic (lists of ids), date (ISO string|None).
PassageRecord = dict[str, Any]


@dataclass
class SearchRequest:
    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)  # field -> values (OR within, AND across)
    page: int = 1
    per_page: int = 20
    cursor: str | None = None  # opaque; wins over page when given
    sort: str = "relevance"  # relevance | date | title | added (newest ingested first)
    facets: bool = True
    facet_limit: int = 10  # values per facet field; 0 = all
    max_per_document: int = 3  # 0 = no limit; ignored when filtered to one document
    doc_id: str | None = None  # restrict to one document
    highlight: bool = True
    correct: bool = True  # replace words no passage holds by the nearest known word (kb.search.spelling)


@dataclass
class Hit:
    passage_id: str
    doc_id: str
    ordinal: int
    title: str
    path: str
    source_id: str | None
    format: str
    page_start: int | None
    page_end: int | None
    heading_path: list[str]
    text: str
    snippet: str  # HTML-escaped text with <mark>…</mark> around matches, nothing else unescaped
    score: float
    year: int | None = None
    lang: str | None = None
    entities: dict[str, list[str]] = field(default_factory=dict)  # type -> ids
    added: str | None = None  # when the document was ingested (ISO 8601)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]  # field -> [(value, count)] most frequent first
    page: int
    per_page: int
    next_cursor: str | None = None
    suggestion: str | None = None  # did-you-mean, when results are few
    corrected_query: str | None = None  # the query that ran, when unknown words were corrected
    query: str = ""
    took_ms: float = 0.0
    truncated: bool = False  # the time budget cut the search short

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "next_cursor": self.next_cursor,
            "suggestion": self.suggestion,
            "corrected_query": self.corrected_query,
            "took_ms": round(self.took_ms, 2),
            "truncated": self.truncated,
            "results": [h.to_dict() for h in self.hits],
            "facets": {k: [{"value": v, "count": c} for v, c in vs] for k, vs in self.facets.items()},
        }


class PassageIndex(Protocol):
    """What every backend provides."""

    def index_passages(self, records: Iterable[PassageRecord]) -> int: ...

    def delete_document(self, doc_id: str) -> None: ...

    def search(self, request: SearchRequest) -> SearchResult: ...

    def iter_all(self, request: SearchRequest) -> Iterator[Hit]:
        """Every matching hit in result order, in constant memory (exports)."""
        ...

    def more_like(self, passage_id: str, limit: int = 10) -> list[Hit]: ...

    def suggest(self, q: str) -> str | None: ...

    def stats(self) -> dict[str, Any]: ...

    def doc_ids(self) -> dict[str, int]:
        """doc_id -> number of passages in the index (for kb check)."""
        ...
