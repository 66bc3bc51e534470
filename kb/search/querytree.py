"""The backend-neutral query tree: what the search service hands every backend.

The service (kb.search.service) parses the user's string (kb.search.language) into these
nodes; each backend compiles them into its engine's own query (the Whoosh backend into Whoosh
query objects, the OpenSearch backend into query DSL). Nodes are frozen dataclasses, so equal
clauses compare and hash equal (a backend may count repeated words by merging them).

Words are kept as the user wrote them: analysis (stemming, stop words, case and accent
folding) is the engine's business, done with the analysers of the fields searched.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# Every field name the query language accepts before a colon (`title:`, `country:`…). The
# Whoosh backend's schema test checks this list against its schema.
QUERY_FIELDS = (
    "body", "country", "date", "doc_id", "event", "heading", "heading_path", "id", "lang", "ordinal",
    "org", "page_end", "page_start", "path", "person", "region", "source_id", "spell", "text",
    "text_ar", "text_cjk", "text_es", "text_fr", "text_ru", "title", "topic", "type", "year", "year_k",
)
# Text searched by an unfielded word, besides the per-language body fields.
DEFAULT_FIELDS = ("title", "heading")
# Fields whose values are tag ids; a match on them carries no term statistics.
ENTITY_FIELDS = ("country", "region", "org", "person", "topic")
# Fields matched case-insensitively against the values the index holds.
KEYWORD_FIELDS = frozenset(ENTITY_FIELDS) | {"type", "lang", "year_k", "doc_id", "source_id", "event"}


@dataclass(frozen=True)
class Word:
    """A word as typed; `field` None means the default text fields (title, heading, text)."""
    text: str
    field: str | None = None
    boost: float = 1.0


@dataclass(frozen=True)
class Phrase:
    """Words adjacent and in order (`slop` 1), or within `slop` positions."""
    text: str
    field: str | None = None
    slop: int = 1
    boost: float = 1.0


@dataclass(frozen=True)
class Prefix:
    text: str
    field: str | None = None
    boost: float = 1.0


@dataclass(frozen=True)
class Wildcard:
    """`*` anywhere but the end (`?` is not a wildcard in kb's language)."""
    text: str
    field: str | None = None
    boost: float = 1.0


@dataclass(frozen=True)
class Fuzzy:
    text: str
    field: str | None = None
    maxdist: int = 1
    prefix: int = 0
    boost: float = 1.0


@dataclass(frozen=True)
class Range:
    field: str | None
    start: str | None
    end: str | None
    start_excl: bool = False
    end_excl: bool = False
    boost: float = 1.0


@dataclass(frozen=True)
class Entity:
    """Passages tagged with an entity, found by resolving a name the user typed."""
    field: str
    id: str


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]
    boost: float = 1.0


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]
    boost: float = 1.0


@dataclass(frozen=True)
class Not:
    """Every passage except those matching `child`."""
    child: Node


@dataclass(frozen=True)
class AndNot:
    positive: Node
    negative: Node


@dataclass(frozen=True)
class AndMaybe:
    """`required` must match; `optional` only adds to the score."""
    required: Node
    optional: Node


Node = Word | Phrase | Prefix | Wildcard | Fuzzy | Range | Entity | And | Or | Not | AndNot | AndMaybe
LEAVES = (Word, Phrase, Prefix, Wildcard, Fuzzy, Range, Entity)


@dataclass(frozen=True)
class ParsedQuery:
    """A parsed user query: the tree (None: match every passage), the default operator the
    tree was built with ('and' | 'or'), and the text it came from."""
    root: Node | None
    mode: str
    text: str


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (And, Or)):
        return node.children
    if isinstance(node, Not):
        return (node.child,)
    if isinstance(node, AndNot):
        return (node.positive, node.negative)
    if isinstance(node, AndMaybe):
        return (node.required, node.optional)
    return ()


def positive_leaves(node: Node | None) -> Iterator[Node]:
    """The leaves a passage may match on (what to highlight): not under a negation."""
    if node is None or isinstance(node, Not):
        return
    if isinstance(node, AndNot):
        yield from positive_leaves(node.positive)
        return
    if isinstance(node, LEAVES):
        yield node
        return
    for c in children(node):
        yield from positive_leaves(c)
