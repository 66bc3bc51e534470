"""The parts of a search request besides the query tree, as OpenSearch DSL: filters, sort
orders, facet aggregations and highlighting. (The query tree itself: compile.py.)"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kb.errors import InvalidQueryError
from kb.search.opensearch.mapping import FACET_FIELD, TEXT_FIELDS
from kb.search.types import FACET_FIELDS

DSL = dict[str, Any]
SORTS = ("relevance", "date", "title", "added")
FACET_SHARD_SIZE = 65536


def filter_clauses(filters: Mapping[str, list[str]], doc_id: str | None) -> list[DSL]:
    """Facet filters: OR within a field, AND across fields; values matched case-insensitively."""
    out: list[DSL] = []
    for name, values in (filters or {}).items():
        if name not in FACET_FIELDS:
            raise InvalidQueryError(f"unknown filter {name!r}; filters are {', '.join(FACET_FIELDS)}")
        values = [str(v) for v in values if str(v).strip()]
        if not values:
            continue
        if name == "year":
            if not all(v.strip().isdigit() for v in values):
                raise InvalidQueryError("a year filter must be a year such as 2012")
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
        raise InvalidQueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if sort in ("date", "added"):  # newest first; unknown last; then relevance
        return [{sort: {"order": "desc", "missing": "_last"}}, {"_score": "desc"}, {"id": "asc"}]
    if sort == "title":
        return [{"title.sort": {"order": "asc", "missing": "_last"}}, {"id": "asc"}]
    return [{"_score": "desc"}, {"id": "asc"}]


def facet_aggs(fields: tuple[str, ...], limit: int, primaries: int = 2) -> DSL:
    """Terms aggregations whose shard_size exceeds any field's values on a shard, so every
    shard returns every value and the counts are exact (checked on the answer: the backend
    counts the values itself when a shard may have left one out). One shard's own top `limit`
    is exact already: asking it for every value (the person facet has thousands) only made it
    build, send and sort them all, the largest part of a faceted search's time."""
    size = limit if limit else FACET_SHARD_SIZE
    shard_size = size if primaries == 1 else FACET_SHARD_SIZE
    return {name: {"terms": {"field": FACET_FIELD[name], "size": size,
                             "shard_size": shard_size,
                             "order": [{"_count": "desc"}, {"_key": "asc"}]}}
            for name in fields}


def highlight(snippet_chars: int = 320) -> DSL:
    return {"pre_tags": ["<mark>"], "post_tags": ["</mark>"], "encoder": "html",
            "require_field_match": False,
            "fields": {name: {"fragment_size": snippet_chars, "number_of_fragments": 1,
                              "no_match_size": snippet_chars} for name in TEXT_FIELDS}}


def union_query(q: DSL | None, filters: list[DSL], ids: tuple[str, ...]) -> DSL:
    """The query's matches or any of `ids`, under the filters (BackendQuery.union_ids)."""
    if q is None:
        return full_query(None, filters)
    return {"bool": {"should": [q, {"ids": {"values": list(ids)}}], "minimum_should_match": 1, "filter": filters}}


def union_body(q: DSL, ids: tuple[str, ...], fields: tuple[str, ...], limit: int, timeout_ms: int | None,
               primaries: int = 2) -> DSL:
    """Counts only (no hits): the union's total, its facets, and which of `ids` it holds."""
    aggs = facet_aggs(fields, limit, primaries)
    aggs[FOUND_AGG] = {"filter": {"ids": {"values": list(ids)}},
                       "aggs": {"id": {"terms": {"field": "id", "size": max(1, len(ids))}}}}
    body: DSL = {"query": q, "size": 0, "track_total_hits": True, "aggs": aggs}
    if timeout_ms is not None:
        body["timeout"] = f"{timeout_ms}ms"
    return body


def union_found(aggs: DSL, ids: tuple[str, ...]) -> tuple[str, ...]:
    """The ids the union's answer holds, in the order they were asked for."""
    got = {str(b["key"]) for b in aggs.get(FOUND_AGG, {}).get("id", {}).get("buckets", [])}
    return tuple(p for p in dict.fromkeys(ids) if p in got)


FOUND_AGG = "kb_union_found"  # never a facet name (types.FACET_FIELDS)
