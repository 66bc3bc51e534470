"""Turn one extracted file (or one record of a collection) into what the catalog stores:
the document row, its passages, the entity mentions and the people seen in it."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from indexer.segment import segment
from kb.model import Block, Extracted, Record

_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")
_tagger = None  # one per worker process: building the spaCy pipeline is the slow part


def document_id(sha256: str) -> str:
    """Stable id from the content hash: identical bytes are one document wherever they lie."""
    return sha256[:16]


def record_doc_id(rec: Record) -> str:
    blob = json.dumps([rec.source_id, rec.title, rec.text, rec.metadata], ensure_ascii=False,
                      sort_keys=True, default=str)
    return "r" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:15]


def year_from(*candidates: Any) -> int | None:
    """The first plausible year in the candidates (creation date, title, file name)."""
    for c in candidates:
        if c is None:
            continue
        if isinstance(c, int) and 1950 <= c <= 2049:
            return c
        m = _YEAR.search(str(c))
        if m:
            return int(m.group(1))
    return None


def get_tagger(curation: list[dict[str, Any]] | None = None):
    """The process's tagger. The ingest parent builds it with the catalog's curation before
    forking its workers, which inherit it; `curation` given again rebuilds it."""
    global _tagger
    if _tagger is None or curation is not None:
        from indexer.tag import Tagger
        from kb.entities import load_registry

        _tagger = Tagger(load_registry(curation or []))
    return _tagger


def _detect(text: str) -> str | None:
    from indexer.language import detect

    return detect(text)


def build_document(doc_id: str, extracted: Extracted, info: dict[str, Any]) -> dict[str, Any]:
    """info: sha256, size, path (and optional source_id/metadata for records)."""
    full, passages = segment(doc_id, extracted)
    doc_lang = _detect(full[:20000])
    for p in passages:
        # Passages long enough to judge get their own language; mixed-language documents
        # (bilingual decks, translated summaries) are common in forum material.
        lang = _detect(p.text) if len(p.text.split()) >= 12 else None
        p.language = lang or doc_lang
    name = Path(str(info.get("path", "")).split("#", 1)[0]).name
    title = (extracted.title or "").strip() or _first_heading(extracted.blocks) or Path(name).stem or doc_id
    metadata = dict(extracted.metadata)
    metadata.update({k: v for k, v in (("authors", extracted.authors), ("created", extracted.created),
                                        ("modified", extracted.modified), ("warnings", extracted.warnings),
                                        ("filename", name)) if v})
    metadata.update(info.get("metadata") or {})
    tagger = get_tagger()
    mentions = tagger.tag_passages(passages, doc_lang)
    people = tagger.people_of(mentions)
    doc = {
        "id": doc_id, "sha256": info["sha256"], "title": title[:500], "format": extracted.format,
        "size": info.get("size"), "page_count": extracted.page_count, "language": doc_lang,
        "year": year_from(metadata.get("year"), extracted.created, title, name),
        "source_id": info.get("source_id"), "metadata": metadata, "path_key": info.get("path"),
        "extractor_version": _version(),
    }
    return {"doc": doc, "passages": [p.to_dict() for p in passages],
            "mentions": [m.to_dict() for m in mentions], "people": people}


def build_record(rec: dict[str, Any]) -> dict[str, Any]:
    """One record of a JSONL/CSV collection: its title is a heading, its text paragraphs."""
    blocks = []
    paragraphs = [t.strip() for t in re.split(r"\n\s*\n", rec.get("text") or "") if t.strip()]
    for para in paragraphs:
        blocks.append(Block("paragraph", para))
    if not blocks and rec.get("title"):
        blocks.append(Block("paragraph", rec["title"]))
    extracted = Extracted(format=rec.get("format") or "jsonl", blocks=blocks, title=rec.get("title"))
    built = build_document(rec["doc_id"], extracted, {
        "sha256": rec["sha"], "size": None, "path": rec["path"], "source_id": rec["source_id"],
        "metadata": rec.get("metadata") or {}})
    return built


def _first_heading(blocks: list[Block]) -> str | None:
    for b in blocks:
        if b.kind in ("title", "heading") and b.text.strip():
            return b.text.strip()
    return None


def _version() -> str:
    from indexer.extract import EXTRACTOR_VERSION

    return EXTRACTOR_VERSION
