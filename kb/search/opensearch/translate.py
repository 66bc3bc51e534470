"""kb's query language and SearchRequest as OpenSearch query DSL (plain dicts).

The one module that turns queries into DSL: when the search service's backend-neutral query
tree arrives (issue 11) it is translated here instead of the query string. Grammar, as in
docs/query-language.md: words (all required for short queries, any for questions of five
content words or more), "phrases", AND/OR/NOT and a leading -, parentheses, field:value
(entity ids, type, lang, event, doc_id, source_id case-insensitively; title: and heading:
words; year:2012, year:[2010 TO 2014], year:>=2015), word~ and word~2 (fuzzy), word* (prefix).
Unbalanced quotes and parentheses are read as best as possible.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from kb.errors import InvalidInputError, InvalidQueryError
from kb.search.opensearch.mapping import ENTITY_FIELDS, FACET_FIELD, SEARCH_FIELDS, TEXT_FIELDS
from kb.search.types import FACET_FIELDS, SearchRequest

Resolver = Callable[[str], list[tuple[str, str]]]
DSL = dict[str, Any]

ENTITY_SCORE = 1.5  # score of a passage matched only through an entity tag
NATURAL_LANGUAGE_WORDS = 5
SORTS = ("relevance", "date", "title")
KEYWORD_QUERY_FIELDS = (*ENTITY_FIELDS, "type", "lang", "event", "doc_id", "source_id")
# English stop words (Lucene's list, question words and the usual function words): they do
# not count towards the five words of a question and are left out of a query that has other
# words, as the Whoosh backend's English analysis leaves them out of its index.
STOP_WORDS = frozenset(["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "whose", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves"])
FACET_SHARD_SIZE = 65536


_TOKEN = re.compile(r'"[^"]*"?|\(|\)|[\w.-]+:\[[^\]]*\]?|[^\s()"]+')
_PLAIN_WORD = re.compile(r"^[^\W_][\w'’.&-]*$")
_BOOLEAN = re.compile(r"(^|\s)(AND|OR|NOT)(\s|$)")
_EXPLICIT = re.compile(r"(^|[\s(])[+-]\S|[:*~]|\w\(|\)\w")
_RANGE = re.compile(r"^\[\s*(\S+)\s+TO\s+(\S+?)\s*\]?$", re.IGNORECASE)


def text_fields() -> list[str]:
    """Where words are searched: title, heading and text together, BM25F-weighted at index
    time (mapping.SEARCH_FIELDS). Measured on SciFact/CACM against the alternative of
    text fields plus title^2 and heading^2 as cross_fields: nDCG@10 0.6818 vs 0.6782, MAP
    0.3308 vs 0.3579 (`python -m bench opensearch --relevance`)."""
    return list(SEARCH_FIELDS)


def plain_words(q: str) -> list[str]:
    return [t for t in _TOKEN.findall(q) if _PLAIN_WORD.match(t) and t not in ("AND", "OR", "NOT")]


def is_plain(q: str) -> bool:
    """No operator, field, wildcard or fuzzy mark (quotes and punctuation allowed): only then
    may AND relax to OR and unknown words be corrected."""
    unquoted = q.replace('"', " ")
    return not _BOOLEAN.search(unquoted) and not _EXPLICIT.search(unquoted)


def choose_mode(q: str) -> str:
    prose = re.sub(r"[?!.,;:]+(?=\s|$)", " ", q)
    content = [w for w in plain_words(prose) if w.lower() not in STOP_WORDS]
    if not _BOOLEAN.search(q) and len(content) >= NATURAL_LANGUAGE_WORDS:
        return "or"
    return "and"


class _Parser:
    def __init__(self, q: str, mode: str, resolver: Resolver | None, max_expansions: int) -> None:
        q = q.replace("?", " ")
        self.tokens = _TOKEN.findall(q)
        self.pos = 0
        self.mode = mode
        self.resolver = resolver
        self.max_expansions = max_expansions
        # stop words are dropped unless they are all the query has ("the who")
        self.drop_stops = any(_bare(t).lower() not in STOP_WORDS for t in self.tokens
                              if _PLAIN_WORD.match(_bare(t)) and t not in ("AND", "OR", "NOT"))

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> DSL | None:
        clauses = []
        while self.peek() is not None:
            if self.peek() == ")":  # unbalanced: skip it
                self.pos += 1
                continue
            clause = self.or_expr()
            if clause is not None:
                clauses.append(clause)
        return self.combine(clauses)

    def combine(self, clauses: list[tuple[str, DSL | None, bool]]) -> DSL | None:
        """Join (kind, query, optional) clauses: kind 'must' or 'not'."""
        must = [c for kind, c, opt in clauses if kind == "must" and c is not None and not opt]
        should = [c for kind, c, opt in clauses if kind == "must" and c is not None and opt]
        must_not = [c for kind, c, _ in clauses if kind == "not" and c is not None]
        if not (must or should or must_not):
            return None
        if self.mode == "or" and not must_not and len(must) + len(should) > 1:
            return {"bool": {"should": must + should, "minimum_should_match": 1}}
        if len(must) == 1 and not should and not must_not:
            return must[0]
        body: DSL = {}
        if must:
            body["must"] = must
        if should:
            body["should"] = should
            if not must:
                body["minimum_should_match"] = 1
        if must_not:
            body["must_not"] = must_not
            if not must and not should:
                body["must"] = [{"match_all": {}}]  # `-rural`: every passage without it
        return {"bool": body}

    def or_expr(self) -> tuple[str, DSL | None, bool] | None:
        parts = [self.and_expr()]
        while self.peek() == "OR":
            self.pos += 1
            parts.append(self.and_expr())
        parts = [p for p in parts if p is not None]
        if len(parts) <= 1:
            return parts[0] if parts else None
        queries = [self.combine([p]) for p in parts]
        return ("must", {"bool": {"should": [q for q in queries if q], "minimum_should_match": 1}},
                False)

    def and_expr(self) -> tuple[str, DSL | None, bool] | None:
        clauses = []
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.pos += 1
                continue
            clause = self.unary()
            if clause is not None:
                clauses.append(clause)
        if len(clauses) <= 1:
            return clauses[0] if clauses else None
        return ("must", self.combine(clauses), False)

    def unary(self) -> tuple[str, DSL | None, bool] | None:
        tok = self.peek()
        assert tok is not None
        if tok == "NOT":
            self.pos += 1
            inner = self.unary() if self.peek() not in (None, ")") else None
            return ("not", self.combine([inner]) if inner else None, False) if inner else None
        if tok == "(":
            self.pos += 1
            saved = self.mode
            inner = self.or_expr_list()
            self.mode = saved
            if self.peek() == ")":
                self.pos += 1
            return ("must", inner, False) if inner else None
        self.pos += 1
        if tok.startswith("-") and len(tok) > 1 and tok[1] != "-":
            atom = self.atom(tok[1:])
            return ("not", atom, False) if atom else None
        if tok.startswith("+") and len(tok) > 1:
            return ("must", self.atom(tok[1:]), False)
        if _bare(tok).lower() in STOP_WORDS:
            return None if self.drop_stops else ("must", self.atom(tok), True)
        return ("must", self.atom(tok), False)

    def or_expr_list(self) -> DSL | None:
        clauses = []
        while self.peek() not in (None, ")"):
            clause = self.or_expr()
            if clause is not None:
                clauses.append(clause)
        return self.combine(clauses)

    def atom(self, tok: str) -> DSL | None:
        if tok.startswith('"'):
            phrase = tok.strip('"').strip()
            if not phrase:
                return None
            return {"multi_match": {"query": phrase, "type": "phrase", "fields": text_fields()}}
        if ":" in tok and not tok.startswith(":"):
            field, _, value = tok.partition(":")
            if field.lower() in (*KEYWORD_QUERY_FIELDS, "year", "title", "heading"):
                return self.field_atom(field.lower(), value)
        if tok.endswith("*") and len(tok.rstrip("*")) >= 1:
            stem = tok.rstrip("*").lower()
            if len(stem) < 2:
                raise InvalidQueryError(f"{tok!r} would expand to too many words; "
                                        "give a longer prefix")
            fields = [f.split("^")[0] for f in text_fields()]
            return {"bool": {"should": [{"prefix": {f: {"value": stem}}} for f in fields],
                             "minimum_should_match": 1}}
        fuzzy = re.match(r"^(.+?)~([12]?)$", tok)
        if fuzzy:
            return {"multi_match": {"query": fuzzy.group(1), "fields": text_fields(),
                                    "fuzziness": int(fuzzy.group(2) or 1),
                                    "max_expansions": self.max_expansions,
                                    "zero_terms_query": "none"}}
        word = tok.strip(".,;:!'’")
        if not word or not re.search(r"\w", word):
            return None
        # one language field holds the passage: best_fields takes that one's score
        query: DSL = {"multi_match": {"query": word, "fields": text_fields(),
                                      "type": "best_fields", "operator": "and"}}
        entities = self.resolver(word) if self.resolver else []
        if entities:
            tags = [{"constant_score": {"filter": {"term": {kind: eid}}, "boost": ENTITY_SCORE}}
                    for kind, eid in entities if kind in ENTITY_FIELDS]
            query = {"bool": {"should": [query, *tags], "minimum_should_match": 1}}
        return query

    def field_atom(self, field: str, value: str) -> DSL | None:
        value = value.strip('"')
        if not value:
            return None
        if field in ("title", "heading"):
            return {"match": {field: {"query": value, "operator": "and"}}}
        if field == "year":
            return year_query(value)
        return {"term": {field: {"value": value, "case_insensitive": True}}}


def _bare(token: str) -> str:
    return token.strip(".,;:!'’")


def year_query(value: str) -> DSL:
    def number(text: str) -> int | None:
        if text == "*":
            return None
        if not text.isdigit():
            raise InvalidQueryError(f"year:{value} is not a year or a range of years")
        return int(text)

    ranged = _RANGE.match(value)
    if ranged:
        bounds = {}
        low, high = number(ranged.group(1)), number(ranged.group(2))
        if low is not None:
            bounds["gte"] = low
        if high is not None:
            bounds["lte"] = high
        return {"range": {"year": bounds}}
    for op, key in ((">=", "gte"), ("<=", "lte"), (">", "gt"), ("<", "lt")):
        if value.startswith(op):
            return {"range": {"year": {key: number(value[len(op):])}}}
    return {"term": {"year": number(value)}}


def parse(q: str, mode: str, resolver: Resolver | None = None,
          max_expansions: int = 2000) -> DSL | None:
    """The DSL of a query string; None when it holds nothing to search for (all passages)."""
    return _Parser(q, mode, resolver, max_expansions).parse()


def filter_clauses(filters: Mapping[str, list[str]], doc_id: str | None) -> list[DSL]:
    """Facet filters: OR within a field, AND across fields; values matched case-insensitively."""
    out: list[DSL] = []
    for name, values in (filters or {}).items():
        if name not in FACET_FIELDS:
            raise InvalidInputError(f"unknown filter {name!r}; filters are {', '.join(FACET_FIELDS)}")
        values = [str(v) for v in values if str(v).strip()]
        if not values:
            continue
        if name == "year":
            if not all(v.strip().isdigit() for v in values):
                raise InvalidInputError("a year filter must be a year such as 2012")
            out.append({"terms": {"year": [int(v) for v in values]}})
            continue
        field = FACET_FIELD[name]
        out.append({"bool": {"should": [{"term": {field: {"value": v, "case_insensitive": True}}}
                                         for v in values], "minimum_should_match": 1}})
    if doc_id:
        out.append({"term": {"doc_id": doc_id}})
    return out


def full_query(q: DSL | None, filters: list[DSL]) -> DSL:
    if q is None and not filters:
        return {"match_all": {}}
    return {"bool": {"must": [q] if q is not None else [{"match_all": {}}], "filter": filters}}


def sort_clause(sort: str) -> list[Any]:
    """The order of results; the passage id last, so search_after never skips or repeats."""
    if sort not in SORTS:
        raise InvalidInputError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if sort == "date":
        return [{"date": {"order": "desc", "missing": "_last"}}, {"_score": "desc"}, {"id": "asc"}]
    if sort == "title":
        return [{"title.sort": {"order": "asc", "missing": "_last"}}, {"id": "asc"}]
    return [{"_score": "desc"}, {"id": "asc"}]


def facet_aggs(limit: int) -> DSL:
    """Terms aggregations whose shard_size exceeds any field's values on a shard, so every
    shard returns every value and the counts are exact (checked on the answer)."""
    size = limit if limit else FACET_SHARD_SIZE
    return {name: {"terms": {"field": FACET_FIELD[name], "size": size,
                             "shard_size": FACET_SHARD_SIZE,
                             "order": [{"_count": "desc"}, {"_key": "asc"}]}}
            for name in FACET_FIELDS}


def highlight(snippet_chars: int = 320) -> DSL:
    return {"pre_tags": ["<mark>"], "post_tags": ["</mark>"], "encoder": "html",
            "require_field_match": False,
            "fields": {name: {"fragment_size": snippet_chars, "number_of_fragments": 1,
                              "no_match_size": snippet_chars} for name in TEXT_FIELDS}}


def request_window(request: SearchRequest, max_page_size: int) -> tuple[int, int]:
    per_page = int(request.per_page)
    if not 1 <= per_page <= max_page_size:
        raise InvalidInputError(f"per_page must be between 1 and {max_page_size}")
    if int(request.page) < 1:
        raise InvalidInputError("page must be 1 or more")
    return (int(request.page) - 1) * per_page, per_page
