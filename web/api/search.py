"""GET /search: paged JSON results, or a streamed export of every match (format=...)."""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import fields, replace
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from kb.errors import InvalidInputError
from kb.export import CONTENT_TYPES, FORMATS, Provenance, build_id, catalog_lookup, export, filename
from kb.facade import KB
from kb.search.types import Hit, SearchRequest
from web.api.blueprint import bp
from web.api.common import client_address, export_limiter, ok
from web.api.schemas import META_VALUES
from web.db import get_kb, shared_index
from web.params import API_FORM, flag_param, search_request


def parse_request(settings: dict[str, Any]) -> tuple[SearchRequest, str]:
    """The search the query string asks for (web.params, shared with the pages) and the
    response format."""
    fmt = request.args.get("format") or "json"
    if fmt not in FORMATS:
        raise InvalidInputError(f"format must be one of {', '.join(FORMATS)}")
    return search_request(request.args, settings, API_FORM), fmt


@bp.get("/search")
def search() -> Response:
    """Search passages, or export every match.
    ---
    get:
      operationId: search
      summary: Search passages (JSON, paged) or export every matching passage (format=csv|jsonl|xlsx|ris|bibtex)
      description: >
        The query language and filters of `kb search`. Filters are repeated parameters or
        comma-separated values (OR within a field, AND across fields). Paging reaches every
        match exactly once in a stable order, by `cursor` (send back `next_cursor`, or follow
        `links.next`) or by `page`, whatever `per_page`; `total` is the number of matches, which
        is what paging to the end yields. The order is plain result order unless
        `max_per_document` asks for the UI's grouping (a reordering: nothing is left out).
        With `format` other than json the response is a download of every matching passage,
        streamed, with no cap. CSV is RFC 4180 with the header row first and JSONL one passage
        per line, every line with the same keys; their provenance (query, filters, sort, index
        build, export time) is in the X-KB-* headers and, as JSON, at the URL of the `Link`
        header (the same URL with meta=1). XLSX keeps a provenance sheet; RIS and BibTeX a note.
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
        - max_per_document
        - facets
        - correct
        - mode
        - format
        - bom
        - meta
      responses:
        '200':
          description: >
            Results (format=json), the export file, or with meta=1 the export's provenance
          headers:
            X-KB-Query: {description: 'Exports: the query, percent-encoded UTF-8', schema: {type: string}}
            X-KB-Filters: {description: 'Exports: field=v1,v2; ... (values percent-encoded)', schema: {type: string}}
            X-KB-Sort: {description: 'Exports: the sort', schema: {type: string}}
            X-KB-Index-Build: {description: 'Exports: the index build searched', schema: {type: string}}
            X-KB-Exported-At: {description: 'Exports: the time of the export (ISO 8601, UTC)', schema: {type: string}}
            Link: {description: 'Exports: <URL with meta=1>; rel="describedby"; type="application/json"', schema: {type: string}}
          content:
            application/json:
              schema:
                oneOf:
                  - {$ref: '#/components/schemas/SearchResult'}
                  - {$ref: '#/components/schemas/ExportProvenance'}
            text/csv: {schema: {type: string}}
            application/x-ndjson: {schema: {type: string}}
            application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: {schema: {type: string, format: binary}}
            application/x-research-info-systems: {schema: {type: string}}
            application/x-bibtex: {schema: {type: string}}
        '400': BadRequest
        '409': CursorMismatch
        '429': TooManyRequests
        '503': Unavailable
    """
    kb = get_kb()
    req, fmt = parse_request(kb.settings)
    meta = request.args.get("meta") or "0"
    if meta not in META_VALUES:
        raise InvalidInputError(f"meta must be one of {', '.join(META_VALUES)}")
    if fmt != "json":
        if meta == "1":
            return _sidecar(kb, req, fmt)
        return _export(kb, req, fmt, inline=meta == "inline")
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


def _export_request(req: SearchRequest) -> SearchRequest:
    req.facets = False
    req.highlight = False
    req.max_per_document = 0  # an export holds every matching passage, in result order
    req.cursor = None
    return req


def _sidecar(kb: Any, req: SearchRequest, fmt: str) -> Response:
    """meta=1: the provenance of the export this URL gives without it (JSON)."""
    req = _export_request(req)
    counted = kb.search(replace(req, page=1, per_page=1))
    prov = Provenance(query=req.q, filters=req.filters, build_id=build_id(kb.index), sort=req.sort)
    max_rows = int(kb.settings["export_max_rows"])
    passages = min(counted.total, max_rows) if max_rows else counted.total
    return ok(prov.sidecar(fmt, passages=passages, file=filename(req.q, fmt)), headers=prov.headers())


def _export(kb: Any, req: SearchRequest, fmt: str, inline: bool = False) -> Response:
    export_limiter().hit(client_address(), int(kb.settings["export_rate_per_minute"]))
    req = _export_request(req)
    bom = flag_param(request.args, "bom", False)
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
                        max_rows=int(kb.settings["export_max_rows"]), bom=bom, inline=inline,
                        lookup=catalog_lookup(own.catalog))
    except BaseException:
        own.close()
        raise
    resp = Response(_closing(chunks, own), mimetype=CONTENT_TYPES[fmt].split(";")[0])
    resp.headers["Content-Type"] = CONTENT_TYPES[fmt]
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename(req.q, fmt)}"'
    resp.headers["Cache-Control"] = "no-store"
    # Provenance beside the body (CSV and JSONL stay plain): X-KB-* headers, and a link to
    # the same export's provenance document.
    resp.headers.update(prov.headers())
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "meta"] + [("meta", "1")]
    resp.headers["Link"] = f'<{request.path}?{urlencode(args)}>; rel="describedby"; type="application/json"'
    return resp


def _closing(chunks: Iterator[bytes], kb: KB) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        kb.close()
