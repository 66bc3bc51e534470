"""The passage records the search index is built from (kb.search.types.PassageRecord),
made from the catalog alone: a document's passages with its title, path, year and
metadata, the entity ids mentioned in each passage, and entity salience. The catalog
stores; this module decides what the index sees (so `kb reindex` needs nothing else)."""
from __future__ import annotations

from typing import Any

from kb.salience import passage_salience, subject_country
from kb.search.types import PassageRecord
from kb.store import Catalog


def passage_records(catalog: Catalog, doc_id: str) -> list[PassageRecord]:
    """The passages of one document as records for the index; [] for an unknown id."""
    doc = catalog.get_document(doc_id)
    if doc is None:
        return []
    rows = catalog.entity_rows(doc_id)
    ents: dict[str, dict[str, list[str]]] = {}
    for r in rows:
        bucket = ents.setdefault(r["passage_id"], {}).setdefault(r["type"], [])
        if r["entity_id"] not in bucket:
            bucket.append(r["entity_id"])
    meta: dict[str, Any] = doc.get("metadata") or {}
    records = []
    for p in catalog.passages(doc_id):
        e = ents.get(p["id"], {})
        records.append(PassageRecord(
            id=p["id"], doc_id=doc_id, ordinal=p["ordinal"], text=p["text"],
            title=doc.get("title") or "", heading_path=p["heading_path"],
            path=doc["paths"][0] if doc["paths"] else "", source_id=doc.get("source_id"),
            format=doc["format"], year=doc.get("year"),
            lang=p.get("language") or doc.get("language"),
            event=meta.get("event"), date=meta.get("date") or meta.get("created"),
            added=doc.get("ingested_at"), collection=[meta.get("collection") or ""],
            page_start=p["page_start"], page_end=p["page_end"],
            country=e.get("country", []), region=e.get("region", []), org=e.get("org", []),
            person=e.get("person", []), topic=e.get("topic", [])))
    salience = passage_salience(rows, {r.id: r.heading for r in records}, doc.get("title") or "",
                                subject_country(meta))
    for record in records:
        record.salience = salience.get(record.id, {})
    return records
