"""Read models for the pages: country dossier, entity pages and index, document view, figures.

Each function takes the :class:`kb.facade.KB` facade and returns plain dicts (no HTML): the
web templates render them, and the API may return them as JSON. The SQL lives in
:mod:`kb.queries`; entity records (names, aliases, regions, parents) come from the entity
registry when it is available, with pycountry as the fallback for countries so a dossier
still has names and a region on a bare install.
"""
from __future__ import annotations

import gettext
from functools import lru_cache
from typing import Any

import pycountry

from kb import indicators, queries
from kb.errors import InvalidInputError, MovedError, NotFoundError
from kb.model import ENTITY_TYPES

# The six UN languages, in the UN's order, with pycountry's gettext locale for each.
UN_LANGUAGES = (("ar", "ar"), ("zh", "zh_CN"), ("en", None), ("fr", "fr"), ("ru", "ru"), ("es", "es"))
PASSAGE_LIMIT = 20


# -- entity records ------------------------------------------------------------
def registry_record(kb: Any, type_: str, entity_id: str) -> dict[str, Any]:
    """The registry's record (a copy), {} when the registry does not know the entity."""
    rec = kb.registry.get(type_, entity_id)
    return dict(rec) if rec else {}


@lru_cache(maxsize=1)
def _un_regions() -> dict[str, tuple[str | None, str | None]]:
    """iso3 -> (region, sub-region) from country_converter's UN columns (fallback only)."""
    try:
        import country_converter as coco

        data = coco.CountryConverter().data
        return {r.ISO3: (r.continent or None, r.UNregion or None)
                for r in data[["ISO3", "continent", "UNregion"]].itertuples()}
    except Exception:  # noqa: BLE001 - a missing table only loses the region line
        return {}


def _pycountry_names(iso3: str) -> dict[str, str]:
    c = pycountry.countries.get(alpha_3=iso3)
    if c is None:
        return {}
    names = {}
    for lang, locale in UN_LANGUAGES:
        if locale is None:
            names[lang] = c.name
            continue
        try:
            names[lang] = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale]).gettext(c.name)
        except OSError:
            continue
    return names


def country_record(kb: Any, iso3: str) -> dict[str, Any]:
    """Names in the six UN languages, region, sub-region, groupings; NotFoundError if unknown."""
    iso3 = (iso3 or "").upper()
    rec = registry_record(kb, "country", iso3)
    known = len(iso3) == 3 and iso3.isalpha() and pycountry.countries.get(alpha_3=iso3) is not None
    if not rec and not known:
        raise NotFoundError(f"no country {iso3!r}")
    names = rec.get("names") or {}
    if not isinstance(names, dict):
        names = {}
    fallback = _pycountry_names(iso3)
    names = {lang: names.get(lang) or fallback.get(lang) for lang, _ in UN_LANGUAGES
             if names.get(lang) or fallback.get(lang)}
    region = subregion = None
    if not (rec.get("region") and rec.get("subregion")):
        region, subregion = _un_regions().get(iso3, (None, None))
    return {
        "id": iso3,
        "name": rec.get("name") or names.get("en") or iso3,
        "names": names,
        "region": rec.get("region") or region,
        "subregion": rec.get("subregion") or subregion,
        "groupings": list(rec.get("groupings") or []),
        "aliases": list(rec.get("aliases") or []),
        "m49": rec.get("m49"),
    }


def _name(value: Any) -> str | None:
    """A region or sub-region may be a name, an id or a record."""
    if isinstance(value, dict):
        return value.get("name") or value.get("id")
    return value


def _all_countries(kb: Any) -> list[dict[str, Any]]:
    out = [dict(r) for r in kb.registry.all("country")]
    for c in out:
        c["subregion"] = _name(c.get("subregion"))
        c["region"] = _name(c.get("region"))
        if not c.get("name"):
            pc = pycountry.countries.get(alpha_3=c["id"])
            c["name"] = pc.name if pc else c["id"]
    return out


# -- pages ---------------------------------------------------------------------
def corpus_figures(kb: Any) -> dict[str, Any]:
    return queries.figures(kb.catalog)


def country_dossier(kb: Any, iso3: str) -> dict[str, Any]:
    """The country page's data. Cached per catalog change (kb.queries.cached): a country in
    12k of 100k passages costs about a second to gather, a repeat visit nothing. Treat the
    returned dict as read-only: it is shared."""
    check_curation(kb, "country", (iso3 or "").upper())
    record = country_record(kb, iso3)
    return queries.cached(kb.catalog, ("country", record["id"], str(kb.settings.get("indicators") or "")),
                          lambda: _country_dossier(kb, record))


def _country_dossier(kb: Any, record: dict[str, Any]) -> dict[str, Any]:
    iso3 = record["id"]
    cat = kb.catalog
    hood = queries.Neighbourhood(cat, "country", iso3)
    related = {t: hood.co_mentions(t) for t in ("org", "person", "topic")}
    counts = queries.mention_counts(cat, "country")
    peers = []
    sub = _name(record["subregion"])
    if sub:
        peers = [{"id": c["id"], "name": c["name"], "mentions": counts.get(c["id"], 0)}
                 for c in _all_countries(kb) if c.get("subregion") == sub and c["id"] != iso3]
        peers.sort(key=lambda p: (-p["mentions"], p["name"]))
    return {
        "record": record,
        "totals": queries.entity_totals(cat, "country", iso3),
        "documents": queries.documents_for(cat, "country", iso3),
        "practices": hood.by_topic(),
        "passages": hood.passages(PASSAGE_LIMIT),
        "organisations": related["org"],
        "people": related["person"],
        "topics": related["topic"],
        "peers": peers,
        "timeline": queries.timeline(cat, "country", iso3),
        "indicators": indicators.egdi_series(kb.settings.get("indicators"), iso3),
        "benchmark": indicators.benchmark(kb.settings.get("indicators"), iso3, _groups(kb, record)),
    }


def _groups(kb: Any, record: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """Sub-region, region and world members of a country, for the EGDI benchmark."""
    everyone = _all_countries(kb)
    out: dict[str, tuple[str, list[str]]] = {}
    for key in ("subregion", "region"):
        name = _name(record.get(key))
        if name:
            out[key] = (name, [c["id"] for c in everyone if c.get(key) == name])
    out["world"] = ("World", [c["id"] for c in everyone])
    return out


def _org_ref(kb: Any, value: Any) -> dict[str, Any]:
    """An affiliation as {id, name}: people records name organisations by registry id; a
    free-text affiliation keeps its text and no id (so no link to a page that is not there)."""
    if isinstance(value, dict):
        return {"id": value.get("id"), "name": value.get("name") or value.get("id"), "role": value.get("role")}
    text = str(value)
    rec = registry_record(kb, "org", text)
    name = rec.get("name") or queries.entity_name(kb.catalog, "org", text)
    return {"id": text if name else None, "name": name or text, "role": None}


def check_curation(kb: Any, type_: str, entity_id: str) -> None:
    """A rejected entity has no page (NotFoundError); a merged one moved to its target
    (MovedError, which web/ answers with a redirect)."""
    reg = kb.registry
    if reg.is_rejected(type_, entity_id):
        raise NotFoundError(f"{type_} {entity_id!r} was rejected by a curator")
    target = reg.canonical(type_, entity_id)
    if target != entity_id:
        raise MovedError(type_, entity_id, target)


def entity_page(kb: Any, type_: str, entity_id: str) -> dict[str, Any]:
    """An organisation, person, topic or region page's data; cached like the dossier."""
    if type_ not in ENTITY_TYPES:
        raise InvalidInputError(f"unknown entity type {type_!r}")
    check_curation(kb, type_, entity_id)
    if type_ == "country":
        return _entity_page(kb, type_, entity_id)
    return queries.cached(kb.catalog, ("entity", type_, entity_id), lambda: _entity_page(kb, type_, entity_id))


def _entity_page(kb: Any, type_: str, entity_id: str) -> dict[str, Any]:
    if type_ == "country":
        d = country_dossier(kb, entity_id)
        return {**d, "type": "country", "related": {"org": d["organisations"], "person": d["people"],
                                                     "topic": d["topics"]}}
    cat = kb.catalog
    rec = registry_record(kb, type_, entity_id)
    if type_ == "person":
        rec = {**rec, **(cat.get_person(entity_id) or {})}
    name = rec.get("name") or queries.entity_name(cat, type_, entity_id)
    if name is None:
        raise NotFoundError(f"no {type_} {entity_id!r}")
    record = {"id": entity_id, "type": type_, "name": name,
              "aliases": [a for a in (rec.get("aliases") or rec.get("synonyms") or []) if a != name],
              "acronyms": list(rec.get("acronyms") or []),
              "kind": rec.get("kind"), "country": rec.get("country"),
              "honorific": ", ".join(rec.get("honorifics") or []) or None,
              "affiliations": [_org_ref(kb, a) for a in (rec.get("affiliations") or [])],
              "roles": list(rec.get("titles") or []),
              "appearances": [a for a in (rec.get("appearances") or []) if isinstance(a, dict)],
              "parent": None, "children": []}
    if type_ == "org":
        parent = rec.get("parent")
        if parent:
            prec = registry_record(kb, "org", parent)
            record["parent"] = {"id": parent, "name": prec.get("name") or parent}
        record["children"] = sorted(
            ({"id": c["id"], "name": c.get("name") or c["id"]}
             for c in kb.registry.all("org") if c.get("parent") == entity_id),
            key=lambda c: c["name"])
    others = tuple(t for t in ("country", "org", "person", "topic") if t != type_ or type_ == "org")
    hood = queries.Neighbourhood(cat, type_, entity_id)
    related = {t: hood.co_mentions(t) for t in others}
    return {
        "type": type_,
        "record": record,
        "totals": queries.entity_totals(cat, type_, entity_id),
        "related": related,
        "countries": related.get("country", []),
        "documents": queries.documents_for(cat, type_, entity_id),
        "passages": hood.passages(PASSAGE_LIMIT),
        "timeline": queries.timeline(cat, type_, entity_id),
    }


def entity_index(kb: Any, type_: str | None = None) -> list[dict[str, Any]]:
    if type_ is not None and type_ not in ENTITY_TYPES:
        raise InvalidInputError(f"unknown entity type {type_!r}")
    return queries.entity_counts(kb.catalog, type_)


def segments(text: str, mentions: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any] | None]]:
    """Split a passage into (text, mention|None) runs; overlapping or out-of-range mentions
    are dropped (the earliest, longest wins) so a template can render each run escaped."""
    out: list[tuple[str, dict[str, Any] | None]] = []
    pos = 0
    for m in sorted(mentions, key=lambda m: (m["start"], -m["end"])):
        start, end = int(m["start"]), int(m["end"])
        if start < pos or end <= start or end > len(text):
            continue
        if start > pos:
            out.append((text[pos:start], None))
        out.append((text[start:end], m))
        pos = end
    if pos < len(text):
        out.append((text[pos:], None))
    return out


PART_SIZE = 250  # passages per document page: a 800-row spreadsheet is several pages


def part_of(ordinal: int) -> int:
    """The 1-based part of a document view that holds passage `ordinal`."""
    return ordinal // PART_SIZE + 1


def document_view(kb: Any, doc_id: str, part: int = 1) -> dict[str, Any]:
    """A document with the passages of one part (PART_SIZE passages) in order, each split
    into (text, mention|None) segments; NotFoundError for an unknown id or part."""
    doc = kb.catalog.get_document(doc_id)
    if doc is None:
        raise NotFoundError(f"no document {doc_id!r}")
    total = queries.passage_count(kb.catalog, doc_id)
    parts = max(1, -(-total // PART_SIZE))
    if not 1 <= part <= parts:
        raise NotFoundError(f"document {doc_id!r} has {parts} part(s), not {part}")
    first = (part - 1) * PART_SIZE
    passages = queries.passages_with_mentions(kb.catalog, doc_id, first, first + PART_SIZE - 1)
    unit = "slide" if doc.get("format") in ("pptx", "ppt") else "page"
    last_page = None
    for p in passages:
        p["segments"] = segments(p["text"], p["mentions"])
        # a marker before the first passage of each new page or slide
        p["marker"] = p["page_start"] if p["page_start"] is not None and p["page_start"] != last_page else None
        if p["page_start"] is not None:
            last_page = p["page_end"] or p["page_start"]
    return {"document": doc, "passages": passages, "page_unit": unit, "total_passages": total,
            "part": part, "parts": [{"n": n, "first": (n - 1) * PART_SIZE,
                                     "last": min(n * PART_SIZE, total) - 1} for n in range(1, parts + 1)],
            "entities": queries.document_entities(kb.catalog, doc_id)}


def country_index(kb: Any) -> list[dict[str, Any]]:
    """Every known country with its region, sub-region and mention count (the map's data)."""
    counts = queries.mention_counts(kb.catalog, "country")
    out = [{"id": c["id"], "name": c["name"], "region": c.get("region"), "subregion": c.get("subregion"),
            "mentions": counts.get(c["id"], 0)} for c in _all_countries(kb)]
    known = {c["id"] for c in out}
    # countries the tagger found that the reference list lacks still get a row
    for iso3, n in counts.items():
        if iso3 not in known:
            out.append({"id": iso3, "name": queries.entity_name(kb.catalog, "country", iso3) or iso3,
                        "region": None, "subregion": None, "mentions": n})
    return sorted(out, key=lambda c: c["name"])


def _slug(text: str) -> str:
    return "-".join("".join(ch.lower() if ch.isalnum() else " " for ch in text).split())


def _region_records(kb: Any) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in kb.registry.all("region")}


def regions(kb: Any, index: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """M49 regions with their sub-regions and countries (with passage counts)."""
    ids = {r["name"]: rid for rid, r in _region_records(kb).items()}
    rid = lambda name: ids.get(name) or _slug(name)
    tree: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for c in index if index is not None else country_index(kb):
        if c["region"]:
            tree.setdefault(c["region"], {}).setdefault(c["subregion"] or c["region"], []).append(c)
    return [{"id": rid(r), "name": r, "mentions": sum(c["mentions"] for cs in subs.values() for c in cs),
             "subregions": [{"id": rid(s), "name": s, "countries": cs,
                             "mentions": sum(c["mentions"] for c in cs)} for s, cs in sorted(subs.items())]}
            for r, subs in sorted(tree.items())]


def region_page(kb: Any, region_id: str) -> dict[str, Any]:
    """A region, sub-region or grouping: its member countries with passage counts, and the
    passages naming the region itself. NotFoundError when neither the registry nor the
    country records know it."""
    index = country_index(kb)
    by_id = {c["id"]: c for c in index}
    rec = _region_records(kb).get(region_id)
    tree = regions(kb, index)
    parent = subregions = None
    members: list[dict[str, Any]] = []
    for r in tree:
        for node, up in [(r, None)] + [(s, r) for s in r["subregions"]]:
            if node["id"] == region_id:
                parent = up and {"id": up["id"], "name": up["name"]}
                subregions = [s for s in node.get("subregions", []) if s["id"] != node["id"]]
                members = [c for s in node.get("subregions", [node]) for c in s["countries"]]
                name = node["name"]
    if rec:
        name = rec["name"]
        members = [by_id[i] for i in rec.get("members", []) if i in by_id] or members
    elif not members:
        raise NotFoundError(f"no region {region_id!r}")
    cat = kb.catalog
    return {"record": {"id": region_id, "name": name, "parent": parent,
                       "aliases": list((rec or {}).get("aliases") or [])},
            "subregions": subregions or [],
            "countries": sorted(members, key=lambda c: (-c["mentions"], c["name"])),
            "passages": queries.passages_for(cat, "region", region_id, limit=PASSAGE_LIMIT),
            "documents": queries.documents_for(cat, "region", region_id),
            "timeline": queries.timeline(cat, "region", region_id)}


def citation(doc: dict[str, Any], url: str) -> dict[str, str]:
    """RIS, BibTeX and a plain line for one document (the citation box of its page)."""
    import os
    import re

    from kb.export import bib_escape

    meta = doc.get("metadata") or {}
    title = re.sub(r"\s+", " ", doc.get("title") or os.path.basename((doc.get("paths") or [""])[0]) or doc["id"]).strip()
    authors = [re.sub(r"\s+", " ", str(a)).strip() for a in (meta.get("authors") or []) if str(a).strip()]
    year = doc.get("year")
    ris = ["TY  - " + ("SLIDE" if doc.get("format") == "pptx" else "RPRT"), f"ID  - {doc['id']}", f"TI  - {title}"]
    ris += [f"AU  - {a}" for a in authors]
    if year:
        ris.append(f"PY  - {year}")
    source = meta.get("source_url") or meta.get("url")
    ris += [f"UR  - {source}"] if source else []
    ris += [f"UR  - {url}", "ER  - "]
    key = "kb:" + re.sub(r"[^A-Za-z0-9_\-:]", "_", doc["id"])
    fields = [("title", title)] + ([("author", " and ".join(authors))] if authors else []) + \
        ([("year", year)] if year else []) + ([("url", source)] if source else []) + [("howpublished", url)]
    bib = "@misc{" + key + ",\n" + ",\n".join(f"  {k} = {{{bib_escape(v)}}}" for k, v in fields) + "\n}"
    plain = (", ".join(authors) + ". " if authors else "") + title + (f" ({year})" if year else "") + ". " + url
    return {"ris": "\n".join(ris), "bibtex": bib, "plain": plain, "title": title, "authors": authors}
