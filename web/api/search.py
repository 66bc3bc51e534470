"""GET /search: paged JSON results, or a streamed export of every match (format=...)."""
from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import fields, replace
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from kb.errors import InvalidInputError
from kb.export import CONTENT_TYPES, FORMATS, Provenance, build_id, catalog_lookup, export, filename
from kb.facade import KB
from kb.search.types import FACET_FIELDS, Hit, SearchRequest
from web import get_kb, shared_index
from web.api import bp
from web.api.common import client_address, export_limiter, int_arg, ok, paging

SORTS = ("relevance", "date", "title", "added")
_YEAR = re.compile(r"^\d{4}$")
_VALUE = re.compile(r"^[\w.\-:]{1,100}$")
_TEXT_VALUE = re.compile(r"^[^\x00-\x1f\x7f,]{1,200}$")  # collection names are free text


def _filters() -> dict[str, list[str]]:
    """Repeated parameters or comma-separated values: OR within a field, AND across fields."""
    filters: dict[str, list[str]] = {}
    for name in FACET_FIELDS:
        values = [v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]
        for v in values:
            if name == "year" and not _YEAR.match(v):
                raise InvalidInputError(f"year must be four digits, not {v[:20]!r}")
            if name != "year" and not (_TEXT_VALUE if name == "collection" else _VALUE).match(v):
                raise InvalidInputError(f"{name}: {v[:40]!r} is not a valid value")
        if values:
            filters[name] = list(dict.fromkeys(values))
    return filters


def _flag(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in ("0", "1", "true", "false"):
        raise InvalidInputError(f"{name} must be 0 or 1")
    return raw in ("1", "true")


def parse_request(settings: dict[str, Any]) -> tuple[SearchRequest, str]:
    q = (request.args.get("q") or "").strip()
    if len(q) > int(settings["max_query_length"]):
        raise InvalidInputError(f"the query is longer than {settings['max_query_length']} characters")
    sort = request.args.get("sort") or "relevance"
    if sort not in SORTS:
        raise InvalidInputError(f"sort must be one of {', '.join(SORTS)}")
    fmt = request.args.get("format") or "json"
    if fmt not in FORMATS:
        raise InvalidInputError(f"format must be one of {', '.join(FORMATS)}")
    page, per_page = paging(settings)
    cursor = request.args.get("cursor") or None
    if cursor is not None and len(cursor) > 500:
        raise InvalidInputError("cursor is not valid")
    req = SearchRequest(q=q, filters=_filters(), page=page, per_page=per_page, cursor=cursor, sort=sort,
                        facets=_flag("facets", True), facet_limit=int_arg("facet_limit", 10, 0, 1000),
                        max_per_document=int(settings["max_per_document"]), correct=_flag("correct", True))
    return req, fmt


@bp.get("/search")
def search() -> Response:
    """Search passages, or export every match.
    ---
    get:
      operationId: search
      summary: Search passages (JSON, paged) or export every matching passage (format=csv|jsonl|xlsx|ris|bibtex)
      description: >
        The query language and filters of `kb search`. Filters are repeated parameters or
        comma-separated values (OR within a field, AND across fields). `cursor` (from
        `next_cursor`) pages without limit; `page` is for small offsets. With `format` other
        than json the response is a download of every matching passage, streamed, with no cap,
        recording the query, filters, index build id and export time.
      parameters:
        - q
        - country
        - region
        - org
        - person
        - topic
        - type
        - year
        - lang
        - collection
        - sort
        - page
        - per_page
        - cursor
        - facets
        - correct
        - format
        - bom
      responses:
        '200':
          description: Results (format=json) or the export file
          content:
            application/json: {schema: {$ref: '#/components/schemas/SearchResult'}}
            text/csv: {schema: {type: string}}
            application/x-ndjson: {schema: {type: string}}
            application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: {schema: {type: string, format: binary}}
            application/x-research-info-systems: {schema: {type: string}}
            application/x-bibtex: {schema: {type: string}}
        '400': BadRequest
        '429': TooManyRequests
        '503': Unavailable
    """
    kb = get_kb()
    req, fmt = parse_request(kb.settings)
    if fmt != "json":
        return _export(kb, req, fmt)
    result = kb.search(req)
    # Hit.to_dict (dataclasses.asdict) deep-copies every field recursively: ~15% of a search
    # request. The body is serialised and dropped, so a flat dict of the fields is enough.
    body = replace(result, hits=[]).to_dict()
    body["results"] = [_hit_dict(h) for h in result.hits]
    links = {}
    if result.next_cursor:
        args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("cursor", "page")]
        links["next"] = f"{request.path}?{urlencode(args + [('cursor', result.next_cursor)])}"
    body["links"] = links
    return ok(body)


_HIT_FIELDS = tuple(f.name for f in fields(Hit))


def _hit_dict(hit: Hit) -> dict[str, Any]:
    """Hit.to_dict() without the recursive copy; the same keys in the same order."""
    d = {name: getattr(hit, name) for name in _HIT_FIELDS}
    d["path"] = os.path.basename(d["path"] or "")  # server paths stay on the server
    return d


def _export(kb: Any, req: SearchRequest, fmt: str) -> Response:
    export_limiter().hit(client_address(), int(kb.settings["export_rate_per_minute"]))
    req.facets = False
    req.highlight = False
    req.max_per_document = 0  # an export holds every matching passage
    req.cursor = None
    bom = _flag("bom", False)
    # The stream outlives the request (Flask tears the request's KB down when the view
    # returns), so the export reads through a KB of its own, closed when the stream ends;
    # it borrows the process's index like every request.
    own = KB(kb.settings, readonly=True, index_source=shared_index)
    try:
        prov = Provenance(query=req.q, filters=req.filters, build_id=build_id(own.index), sort=req.sort)
        hits = iter(own.index.iter_all(req))
        # Pull the first hit now so a bad query is a 400, not a broken download.
        first = list(itertools.islice(hits, 1))
        chunks = export(itertools.chain(first, hits), fmt, prov,
                        max_rows=int(kb.settings["export_max_rows"]), bom=bom,
                        lookup=catalog_lookup(own.catalog))
    except BaseException:
        own.close()
        raise
    resp = Response(_closing(chunks, own), mimetype=CONTENT_TYPES[fmt].split(";")[0])
    resp.headers["Content-Type"] = CONTENT_TYPES[fmt]
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename(req.q, fmt)}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _closing(chunks: Iterator[bytes], kb: KB) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        kb.close()
