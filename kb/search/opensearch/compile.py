"""From the neutral query tree (kb.search.querytree) to OpenSearch query DSL (plain dicts).

The one module that knows both: every leaf becomes a query on the mapping's fields
(kb.search.opensearch.mapping), the boolean nodes become `bool` queries. An unfielded word is
searched in the per-language BM25F fields (title and heading weighted by repetition); English
stop words are left out of a query that has other words, as the Whoosh backend's English
analysis leaves them out. Prefix and wildcard words are bounded by `max_wildcard_terms`
(counted on the `words` field, one request), fuzzy words by the same number of expansions.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kb.errors import InvalidQueryError
from kb.search import querytree as qt
from kb.search.language import ENGLISH_STOPS
from kb.search.opensearch.mapping import (
    ENTITY_FIELDS,
    MAX_POINTS,
    SEARCH_FIELDS,
    TEXT_FIELDS,
    salience_key,
)
from kb.search.types import SALIENCE_BASE, SALIENCE_PIVOT, SALIENCE_SPREAD

DSL = dict[str, Any]
# Query-language field -> index field. Keyword fields match case-insensitively.
KEYWORD = {"country": "country", "region": "region", "org": "org", "person": "person",
           "topic": "topic", "type": "type", "lang": "lang", "event": "event", "doc_id": "doc_id",
           "source_id": "source_id", "id": "id", "path": "path", "date": "date"}
NUMERIC = {"year": "year", "year_k": "year", "ordinal": "ordinal"}
TEXT = {"title": "title", "heading": "heading", "text": "text_en", "body": "text_en",
        **{f: f for f in TEXT_FIELDS}, "text_en": "text_en"}
# Counts the indexed words a prefix or wildcard expands to (None when not checked).
ExpansionCounter = Callable[[str, int], int]


class Compiler:
    def __init__(self, max_terms: int, count_expansions: ExpansionCounter | None = None) -> None:
        self.max_terms = max_terms
        self.count_expansions = count_expansions

    def query(self, parsed: qt.ParsedQuery | None) -> DSL | None:
        """The DSL of a parsed query; None for every passage."""
        if parsed is None or parsed.root is None:
            return None
        words = [n for n in qt.positive_leaves(parsed.root) if isinstance(n, qt.Word)]
        # stop words are dropped unless they are all the query has
        self.drop_stops = any(w.text.lower() not in ENGLISH_STOPS for w in words) or not words
        return self.node(parsed.root) or {"match_none": {}}

    def node(self, n: qt.Node) -> DSL | None:
        if isinstance(n, qt.And):
            return _bool(must=self.nodes(n.children), boost=n.boost)
        if isinstance(n, qt.Or):
            should = self.nodes(n.children)
            return _bool(should=should, boost=n.boost) if should else None
        if isinstance(n, qt.Not):
            child = self.node(n.child)
            return {"bool": {"must": [{"match_all": {}}], "must_not": [child]}} if child else None
        if isinstance(n, qt.AndNot):
            pos, neg = self.node(n.positive), self.node(n.negative)
            if pos is None:
                return None
            return {"bool": {"must": [pos], "must_not": [neg]}} if neg else pos
        if isinstance(n, qt.AndMaybe):
            req, opt = self.node(n.required), self.node(n.optional)
            if req is None:
                return opt
            return {"bool": {"must": [req], "should": [opt]}} if opt else req
        return self.leaf(n)

    def nodes(self, children: tuple[qt.Node, ...]) -> list[DSL]:
        return [c for c in (self.node(x) for x in children) if c is not None]

    def leaf(self, n: qt.Node) -> DSL | None:
        if isinstance(n, qt.Entity):
            return entity_clause(n.field, n.id)
        if isinstance(n, qt.Range):
            return self.range(n)
        field = getattr(n, "field", None)
        if field is not None and field not in TEXT:
            return self.keyword(field, n)
        fields = [TEXT[field]] if field else list(SEARCH_FIELDS)
        boost = getattr(n, "boost", 1.0)
        if isinstance(n, qt.Word):
            if field is None and self.drop_stops and n.text.lower() in ENGLISH_STOPS:
                return None
            return {"multi_match": {"query": n.text, "fields": fields, "type": "best_fields",
                                    "operator": "and", "boost": boost}}
        if isinstance(n, qt.Phrase):
            # kb's slop 1 is adjacent words, Lucene's 0
            return {"multi_match": {"query": n.text, "fields": fields, "type": "phrase",
                                    "slop": max(0, n.slop - 1), "boost": boost}}
        if isinstance(n, qt.Fuzzy):
            return {"multi_match": {"query": n.text, "fields": fields, "fuzziness": n.maxdist,
                                    "prefix_length": n.prefix, "max_expansions": self.max_terms,
                                    "boost": boost}}
        if isinstance(n, (qt.Prefix, qt.Wildcard)):
            text = n.text.lower()
            pattern = text + "*" if isinstance(n, qt.Prefix) else text
            self.check_expansions(n.text, pattern)
            kind = "prefix" if isinstance(n, qt.Prefix) else "wildcard"
            return _bool(should=[{kind: {f: {"value": text, "boost": boost}}} for f in fields])
        raise InvalidQueryError(f"cannot search {n!r}")

    def keyword(self, field: str, n: qt.Node) -> DSL:
        text = getattr(n, "text", "")
        if field in NUMERIC:
            if not text.isdigit():
                raise InvalidQueryError(f"{field}:{text} is not a number")
            return {"term": {NUMERIC[field]: int(text)}}
        if field not in KEYWORD:
            raise InvalidQueryError(f"the field {field!r} cannot be searched")
        if isinstance(n, qt.Prefix):
            return {"prefix": {KEYWORD[field]: {"value": text, "case_insensitive": True}}}
        if isinstance(n, qt.Wildcard):
            return {"wildcard": {KEYWORD[field]: {"value": text, "case_insensitive": True}}}
        if field in ENTITY_FIELDS:
            return entity_clause(field, text)
        return {"term": {KEYWORD[field]: {"value": text, "case_insensitive": True}}}

    def range(self, n: qt.Range) -> DSL:
        field = n.field or "year"
        if field in NUMERIC:
            target, convert = NUMERIC[field], _number
        elif field in KEYWORD:
            target, convert = KEYWORD[field], str
        else:
            raise InvalidQueryError(f"the field {field!r} has no range")
        bounds: dict[str, Any] = {}
        if n.start not in (None, "", "*"):
            bounds["gt" if n.start_excl else "gte"] = convert(n.start)
        if n.end not in (None, "", "*"):
            bounds["lt" if n.end_excl else "lte"] = convert(n.end)
        return {"range": {target: bounds}}

    def check_expansions(self, typed: str, pattern: str) -> None:
        if len(pattern.replace("*", "")) < 1:
            raise InvalidQueryError(f"{typed!r} would match every word; give a longer prefix")
        if self.count_expansions is None:
            return
        regex = re.escape(pattern).replace(r"\*", ".*")
        if self.count_expansions(regex, self.max_terms + 1) > self.max_terms:
            raise InvalidQueryError(f"{typed!r} matches more than {self.max_terms} words; "
                                    "give a longer prefix")


def _number(text: str) -> int:
    if not str(text).lstrip("-").isdigit():
        raise InvalidQueryError(f"{text!r} is not a number")
    return int(text)


def _bool(must: list[DSL] | None = None, should: list[DSL] | None = None,
          boost: float = 1.0) -> DSL | None:
    if must is not None:
        if not must:
            return None
        if len(must) == 1 and boost == 1.0:
            return must[0]
        return {"bool": {"must": must, "boost": boost}}
    should = should or []
    if len(should) == 1 and boost == 1.0:
        return should[0]
    return {"bool": {"should": should, "minimum_should_match": 1, "boost": boost}}


def entity_clause(field: str, entity_id: str) -> DSL:
    """Passages tagged with the entity, scored by salience as the Whoosh backend does:
    SALIENCE_BASE + SALIENCE_SPREAD * p / (p + SALIENCE_PIVOT) for the passage's points p
    (kb.search.types). Points are small whole numbers, so each possible p is one constant-score
    clause on the passage's "type:id#p" keyword: core OpenSearch, no script or plugin."""
    key = salience_key(field, entity_id)
    return {"bool": {
        "must": [{"constant_score": {"filter": {"term": {field: {"value": entity_id, "case_insensitive": True}}},
                                     "boost": SALIENCE_BASE}}],
        "should": [{"constant_score": {"filter": {"term": {"salience": f"{key}#{p}"}},
                                       "boost": SALIENCE_SPREAD * p / (p + SALIENCE_PIVOT)}}
                   for p in range(1, MAX_POINTS + 1)]}}
