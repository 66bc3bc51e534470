"""The pages: home, search (+ Atom), documents, countries, entities, regions."""
from __future__ import annotations

from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from flask import Response, render_template, request, url_for

from kb import dossier, queries
from kb.errors import InvalidInputError, NotFoundError
from kb.model import ENTITY_TYPES
from kb.search.types import FACET_FIELDS, SearchRequest
from web.db import get_kb
from web.ui import charts
from web.ui.blueprint import ENTITY_ROUTES, bp
from web.ui.html import passage_html
from web.ui.params import FILTER_PARAMS, like_param, query_string, search_request

FACET_TOP = 8  # facet values shown before "more"
NAMED_FACETS = ("country", "region", "org", "person", "topic")
EXPORT_FORMATS = (("csv", "CSV"), ("jsonl", "JSONL"), ("xlsx", "XLSX"), ("ris", "RIS"), ("bibtex", "BibTeX"))


def _names(kb: Any, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    return queries.names_for(kb.catalog, pairs) if pairs else {}


@bp.get("/")
def home() -> str:
    kb = get_kb()
    figures = dossier.corpus_figures(kb)
    return render_template("home.html", figures=figures, regions=dossier.regions(kb),
                           countries=queries.top_entities(kb.catalog, "country"),
                           topics=queries.top_entities(kb.catalog, "topic"),
                           hist=charts.histogram(figures["years"]))


def _run_search(kb: Any) -> dict[str, Any]:
    args = request.args
    req = search_request(args, kb.settings)
    like = like_param(args)
    ctx: dict[str, Any] = {"req": req, "like": like, "result": None, "hits": [], "facets": [],
                           "chips": [], "like_passage": None}
    if like:
        passage = kb.catalog.passage(like)
        if passage is None:
            raise NotFoundError(f"no passage {like!r}")
        ctx["like_passage"] = passage
        ctx["hits"] = kb.index.more_like(like, limit=req.per_page)
    elif req.q or req.filters:
        result = kb.search(req)
        ctx["result"] = result
        ctx["hits"] = result.hits
    pairs = {(t, i) for h in ctx["hits"] for t, ids in (h.entities or {}).items() for i in ids
             if t in NAMED_FACETS}
    result = ctx["result"]
    if result is not None:
        pairs |= {(f, v) for f, vs in result.facets.items() if f in NAMED_FACETS for v, _ in vs}
    pairs |= {(f, v) for f, vs in req.filters.items() if f in NAMED_FACETS for v in vs}
    names = _names(kb, pairs)
    ctx["names"] = names
    for f, vs in req.filters.items():
        for v in vs:
            ctx["chips"].append({"field": f, "value": v, "label": names.get((f, v), v),
                                 "remove": query_string(args, drop=(f, v), page=None)})
    if result is not None:
        # the current query without `page`, encoded once: facet links append one pair to it
        base = urlencode([(k, v) for k, v in args.items(multi=True) if k != "page" and v != ""])
        for f in FACET_FIELDS:
            values = result.facets.get(f) or []
            if not values:
                continue
            top = max(c for _, c in values) or 1
            active = set(req.filters.get(f, []))
            items = [{"value": v, "count": c, "label": names.get((f, v), v), "w": round(60 * c / top),
                      "active": v in active,
                      "href": query_string(args, drop=(f, v), page=None) if v in active
                      else base + ("&" if base else "") + urlencode([(f, v)])} for v, c in values]
            ctx["facets"].append({"field": f, "top": items[:FACET_TOP], "more": items[FACET_TOP:]})
        ctx["pages"] = _paging(req, result.total)
    return ctx


def _paging(req: SearchRequest, total: int) -> dict[str, Any]:
    last = max(1, -(-total // req.per_page))
    return {"page": req.page, "last": last,
            "prev": query_string(request.args, page=req.page - 1) if req.page > 1 else None,
            "next": query_string(request.args, page=req.page + 1) if req.page < last else None}


@bp.get("/search")
def search() -> str:
    kb = get_kb()
    ctx = _run_search(kb)
    base = query_string(request.args, page=None)
    ctx["exports"] = [(label, "/api/v1/search?" + query_string(request.args, page=None, per_page=None,
                                                                  format=fmt)) for fmt, label in EXPORT_FORMATS]
    ctx["atom"] = "/search.atom?" + base
    ctx["sorts"] = [("relevance", "Relevance"), ("date", "Newest first"), ("title", "Title")]
    ctx["filter_params"] = FILTER_PARAMS
    return render_template("search.html", **ctx)


@bp.get("/search.atom")
def search_atom() -> Response:
    kb = get_kb()
    req = search_request(request.args, kb.settings)
    if not (req.q or req.filters):
        raise InvalidInputError("a feed needs a query or a filter")
    result = kb.search(req)
    from datetime import datetime

    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    body = render_template("search_atom.xml", result=result, req=req, now=now,
                           self_url=request.url, html_url=request.url_root.rstrip("/") + "/search?"
                           + query_string(request.args, page=None))
    return Response(body, mimetype="application/atom+xml")


@bp.get("/documents/<doc_id>")
def document(doc_id: str) -> str:
    kb = get_kb()
    raw = request.args.get("part") or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise InvalidInputError(f"part must be a positive whole number, not {raw[:20]!r}")
    view = dossier.document_view(kb, doc_id, int(raw))
    tags: dict = {}
    for p in view["passages"]:
        p["html"] = passage_html(p["segments"], tags)
    url = request.url_root.rstrip("/") + url_for("ui.document", doc_id=doc_id)
    cite = dossier.citation(view["document"], url)
    return render_template("document.html", **view, cite=cite, page_url=url,
                           file_url=f"/api/v1/documents/{doc_id}/file")


@bp.get("/countries/")
def countries() -> str:
    kb = get_kb()
    index = dossier.country_index(kb)
    mentioned = sorted((c for c in index if c["mentions"]), key=lambda c: (-c["mentions"], c["name"]))
    return render_template("countries.html", countries=index, mentioned=mentioned,
                           cartogram=charts.cartogram(index))


@bp.get("/countries/<iso3>")
def country(iso3: str) -> str:
    kb = get_kb()
    d = dossier.country_dossier(kb, iso3)
    return render_template("country.html", d=d, hist=charts.histogram(
        [(t["year"], t["passages"]) for t in d["timeline"]], width=320, height=120))


def _entity(type_: str, entity_id: str) -> str:
    kb = get_kb()
    page = dossier.entity_page(kb, type_, entity_id)
    from web.ui.curation import curator_context

    return render_template("entity.html", p=page, type=type_, hist=charts.histogram(
        [(t["year"], t["passages"]) for t in page["timeline"]], width=320, height=120), **curator_context())


@bp.get("/organisations/<entity_id>")
def organisation(entity_id: str) -> str:
    return _entity("org", entity_id)


@bp.get("/people/<entity_id>")
def person(entity_id: str) -> str:
    return _entity("person", entity_id)


@bp.get("/topics/<entity_id>")
def topic(entity_id: str) -> str:
    return _entity("topic", entity_id)


@bp.get("/regions/<region_id>")
def region(region_id: str) -> str:
    kb = get_kb()
    page = dossier.region_page(kb, region_id)
    return render_template("region.html", r=page, hist=charts.histogram(
        [(t["year"], t["passages"]) for t in page["timeline"]], width=320, height=120))


@bp.get("/entities")
def entities() -> str:
    kb = get_kb()
    type_ = request.args.get("type") or None
    if type_ is not None and type_ not in ENTITY_TYPES:
        raise InvalidInputError(f"type must be one of {', '.join(ENTITY_TYPES)}")
    rows = dossier.entity_index(kb, type_)
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["type"], []).append(r)
    return render_template("entities.html", groups=[(t, groups[t]) for t in ENTITY_TYPES if t in groups],
                           type=type_, types=ENTITY_TYPES, routes=ENTITY_ROUTES)
