"""Shapes shared by every search backend, the facade, the CLI, the UI and the API."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from kb.search.querytree import ParsedQuery

# Facet / filter fields, in display order. Entity fields hold canonical ids.
FACET_FIELDS = ("country", "region", "org", "person", "topic", "type", "year", "lang", "collection")

HEADING_SEPARATOR = " › "  # a heading path shown (and indexed) as one string


@dataclass
class PassageRecord:
    """One passage as handed to the index by the catalog (kb.records.passage_records).

    The heading travels once, as its path; the joined string (`heading`) is derived where a
    backend indexes it. `salience`: {entity type: {entity id: points}}, points an int >= 1
    for every id of the passage's entity lists: how much the passage is about it
    (kb.salience). A backend ranks the passages an entity query matches by these points:
    SALIENCE_BASE + SALIENCE_SPREAD * points / (points + SALIENCE_PIVOT), added to the text
    relevance of the rest of the query; an entity without points counts 1."""

    id: str
    doc_id: str
    ordinal: int
    text: str
    title: str = ""
    heading_path: list[str] = field(default_factory=list)
    path: str = ""
    source_id: str | None = None
    format: str = ""  # the document's format: the `type` facet
    year: int | None = None
    lang: str | None = None
    event: str | None = None
    date: str | None = None  # ISO 8601
    added: str | None = None  # when the document was ingested (ISO 8601)
    collection: list[str] = field(default_factory=list)
    page_start: int | None = None
    page_end: int | None = None
    country: list[str] = field(default_factory=list)  # entity ids, each list by type
    region: list[str] = field(default_factory=list)
    org: list[str] = field(default_factory=list)
    person: list[str] = field(default_factory=list)
    topic: list[str] = field(default_factory=list)
    salience: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def heading(self) -> str:
        return HEADING_SEPARATOR.join(self.heading_path)

    def entity_ids(self, type_: str) -> list[str]:
        """The ids of one entity type (country, region, org, person, topic)."""
        return list(getattr(self, type_))


SALIENCE_BASE = 1.0
SALIENCE_SPREAD = 1.0
SALIENCE_PIVOT = 3.0


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
    mode: str | None = None  # bm25 | hybrid; None: the search_mode setting (kb.search.hybrid)


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
    mode: str = "bm25"  # the ranking that ran: bm25 | hybrid
    mode_reason: str = ""  # why not hybrid ('' when hybrid ran)

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
            "mode": self.mode,
            "mode_reason": self.mode_reason,
            "results": [h.to_dict() for h in self.hits],
            "facets": {k: [{"value": v, "count": c} for v, c in vs] for k, vs in self.facets.items()},
        }


@dataclass
class BackendQuery:
    """What the search service asks a backend for: one page (or, through iter_hits, every
    hit) of a parsed query under filters, in one order."""
    query: ParsedQuery | None  # None or a None root: every passage
    filters: dict[str, list[str]] = field(default_factory=dict)
    doc_id: str | None = None
    sort: str = "relevance"  # relevance | date | title
    offset: int = 0
    limit: int = 20
    max_per_document: int = 0  # 0: no cap
    facet_fields: tuple[str, ...] = ()  # () : no facets
    facet_limit: int = 10
    highlight: bool = True
    deadline: float = float("inf")  # time.monotonic() past which the backend stops reading
    # Passages (by id) that the facets and BackendPage.union_total count besides the query's
    # matches, under the same filters and document restriction; the hits and `total` stay
    # the query's own. Hybrid search's dense candidates: in one backend query, BM25's
    # candidates, which dense candidates pass the filters, and the fused set's facets.
    union_ids: tuple[str, ...] = ()
    # Words marked in the snippets without taking part in the matching (with highlight on):
    # hybrid's page, fetched by id, marks the query's words without evaluating the query.
    mark: ParsedQuery | None = None
    # Hits carry only passage_id, doc_id and score, the rest left empty: candidates the
    # caller ranks itself and then fetches the few it shows (hybrid's BM25 side).
    light: bool = False


@dataclass
class BackendPage:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]
    next_offset: int | None  # offset of the next page; None at the end
    truncated: bool = False  # the deadline cut the matching short
    # With BackendQuery.union_ids: the passages matching the query or among those ids (facets
    # count the same set), and which of those ids the index holds under the filters.
    union_total: int | None = None
    union_found: tuple[str, ...] = ()


class Vocabulary(Protocol):
    """A backend's words, as the spelling policy (kb.search.spelling) needs them."""

    available: bool  # False: the index keeps no spelling words (spelling is off)

    def __contains__(self, form: str) -> bool:
        """Some passage holds this word (in its spelling form)."""
        ...

    def spell_forms(self, token: str) -> list[str]:
        """The token as the spelling index stores it (lowercased, accents folded)."""
        ...

    def frequency(self, form: str) -> int: ...

    def nearest(self, form: str, maxdist: int) -> str | None:
        """The most frequent known word within `maxdist` edits, if any."""
        ...

    def found_by_analysis(self, word: str) -> bool:
        """The word matches a passage once analysed as searches analyse it (stems, titles)."""
        ...


class SearchBackend(Protocol):
    """Everything any caller needs of a search engine. The search service
    (kb.search.service) holds the policy; a backend stores passages and answers
    BackendQuery. One contract suite (tests/kb/search/contract) checks every backend."""

    name: str

    # -- writes: each call is one all-or-nothing commit ------------------------------
    def update_documents(self, doc_ids: Iterable[str], records: Iterable[PassageRecord]) -> int:
        """Drop every passage of `doc_ids` and of the documents in `records`, then add
        `records`; nothing changes unless all of it does. Returns the passages added."""
        ...

    def rebuild(self, records: Iterable[PassageRecord]) -> int:
        """Build a new generation from `records` and publish it atomically."""
        ...

    def needs_rebuild(self) -> bool:
        """Missing, corrupt or of another schema version: `kb reindex` must rebuild it."""
        ...

    def build_id(self) -> str:
        """Changes with every commit and rebuild (cache keys, export provenance)."""
        ...

    # -- reads ------------------------------------------------------------------------
    def search(self, query: BackendQuery) -> BackendPage: ...

    def iter_hits(self, query: BackendQuery) -> Iterator[Hit]:
        """Every hit in result order from query.offset on, in constant memory (exports)."""
        ...

    def more_like(self, passage_id: str, limit: int) -> list[Hit]: ...

    def vocabulary(self) -> Vocabulary: ...

    def doc_ids(self) -> dict[str, int]:
        """doc_id -> passages in the index (kb check)."""
        ...

    def stats(self) -> dict[str, Any]:
        """Health and size figures; never secrets."""
        ...

    def close(self) -> None: ...
