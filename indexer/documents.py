"""Turn one extracted file (or one record of a collection) into what the catalog stores:
the document row, its passages, the entity mentions and the people seen in it."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.segment import segment
from indexer.sidecar import Author, DocMeta
from indexer.tasks import RecordTask
from kb.entities.people import fold_person
from kb.entities.slug import person_id
from kb.model import Block, BuiltDocument, Document, Extracted, Mention, Passage, Record

_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")
# A line that states the document's date: "Date: 18(Thu)-19(Fri) October 2012", "Dated 3 May 2011".
_DATE_LINE = re.compile(r"^\W*(?:date|dated|date of issue)\b[^\n]{0,60}?(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)",
                        re.IGNORECASE | re.MULTILINE)
_tagger = None  # one per worker process: building the spaCy pipeline is the slow part


def document_id(sha256: str) -> str:
    """Stable id from the content hash: identical bytes are one document wherever they lie."""
    return sha256[:16]


def record_doc_id(rec: Record) -> str:
    blob = json.dumps([rec.source_id, rec.title, rec.text, rec.metadata], ensure_ascii=False,
                      sort_keys=True, default=str)
    return "r" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:15]


def document_year(metadata: dict[str, Any], extracted: Extracted, name: str) -> int | None:
    """Metadata first (a sidecar's or a record's date or year), then the document's own dates
    (creation, then a date line of its first blocks), then a year in its file name; never a
    number that merely appears in the text or title ("Vision 2030" is not a date)."""
    year = year_from(metadata.get("date"), metadata.get("year"), extracted.created)
    if year is not None:
        return year
    for block in extracted.blocks[:40]:
        m = _DATE_LINE.search(block.text)
        if m:
            return int(m.group(1))
    named = year_from(Path(name).stem)
    # "agenda-2030.pdf" names a goal, not a date: a year still to come is no publication year
    return named if named is not None and named <= datetime.now(UTC).year else None


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


def build_document(doc_id: str, extracted: Extracted, path: str, sha256: str | None = None,
                   size: int | None = None, source_id: str | None = None,
                   metadata: dict[str, Any] | None = None,
                   sidecar: dict[str, Any] | None = None) -> BuiltDocument:
    """One file's (or record's) document from its extraction. path: the catalog key; sha256
    and size: the file's (None for a record); source_id and metadata: a record's."""
    full, passages = segment(doc_id, extracted)
    side = DocMeta.from_dict(sidecar) if sidecar else None
    doc_lang = (side.language if side else None) or _detect(full[:20000])
    for p in passages:
        # Passages long enough to judge get their own language; mixed-language documents
        # (bilingual decks, translated summaries) are common in forum material.
        lang = _detect(p.text) if len(p.text.split()) >= 12 else None
        p.language = lang or doc_lang
    name = Path(path.split("#", 1)[0]).name
    title = (extracted.title or "").strip() or _first_heading(extracted.blocks) or Path(name).stem or doc_id
    record_metadata, metadata = metadata, dict(extracted.metadata)
    metadata.update({k: v for k, v in (("authors", extracted.authors), ("created", extracted.created),
                                        ("modified", extracted.modified), ("warnings", extracted.warnings),
                                        ("filename", name)) if v})
    metadata.update(record_metadata or {})
    if side is not None:
        title = side.title or title
        metadata.update(sidecar_metadata(side))
        if side.authors:
            passages.append(authors_passage(doc_id, side, passages, full))
    mentions, people = tag_document(get_tagger(), passages, doc_lang, side)
    doc = Document(doc_id, extracted.format, sha256=sha256, title=title[:500], size=size,
                   page_count=extracted.page_count, language=doc_lang,
                   year=document_year(metadata, extracted, name), source_id=source_id,
                   metadata=metadata, extractor_version=_version())
    return BuiltDocument(doc, path, passages, mentions, people)


def build_record(rec: RecordTask) -> BuiltDocument:
    """One record of a JSONL/CSV collection: its title is a heading, its text paragraphs."""
    blocks = []
    paragraphs = [t.strip() for t in re.split(r"\n\s*\n", rec.text or "") if t.strip()]
    for para in paragraphs:
        blocks.append(Block("paragraph", para))
    if not blocks and rec.title:
        blocks.append(Block("paragraph", rec.title))
    extracted = Extracted(format=rec.format or "jsonl", blocks=blocks, title=rec.title)
    # No sha256: a record has no bytes of its own (its id is a hash of its fields).
    return build_document(rec.doc_id, extracted, rec.path, source_id=rec.source_id,
                          metadata=rec.metadata, sidecar=rec.sidecar)


def sidecar_metadata(side: DocMeta) -> dict[str, Any]:
    """The document metadata a sidecar sets (over what extraction found)."""
    out: dict[str, Any] = {"sidecar": side.fingerprint()}
    if side.date:
        out["date"] = side.date
    if side.authors:
        out["authors"] = [a.name for a in side.authors]
        out["author_details"] = [{k: v for k, v in vars(a).items() if v} for a in side.authors]
    for key in ("country", "collection", "source_url", "language"):
        if getattr(side, key):
            out[key] = getattr(side, key)
    if side.tags:
        out["tags"] = list(side.tags)
    return out


def _author_line(a: Any, country: str | None = None) -> str:
    details = ", ".join(v for v in (a.post, a.affiliation, _country_name(a.country or country)) if v)
    return a.name + (f" ({details})" if details else "")


def _country_name(iso3: str | None) -> str | None:
    if not iso3:
        return None
    import pycountry

    c = pycountry.countries.get(alpha_3=iso3)
    return getattr(c, "common_name", None) or (c.name if c else iso3)


def authors_passage(doc_id: str, side: DocMeta, passages: list[Passage], full: str) -> Passage:
    """One passage naming the authors as the sidecar gives them: searchable, and the evidence
    the speaker's person record points at (offsets are real, so pages can highlight them)."""
    roles = {a.role for a in side.authors if a.role}
    label = (next(iter(roles)).capitalize() if len(roles) == 1 else "Authors") + ": "
    text = label + "; ".join(_author_line(a, side.country) for a in side.authors) + "."
    return Passage(doc_id, len(passages), text, ["Metadata"], None, None, char_start=len(full),
                   char_end=len(full) + len(text), kind="note",
                   language=passages[0].language if passages else None)


def tag_document(tagger: Any, passages: list[Passage], lang: str | None,
                 side: DocMeta | None) -> tuple[list[Mention], list[dict[str, Any]]]:
    """A document's mentions and people, as at ingest and at every re-tag: the tagger's, with
    the sidecar's authors (`side`; their passage is the last) put over what it found there."""
    mentions = tagger.tag_passages(passages, lang)
    people = tagger.people_of(mentions)
    if side is not None and side.authors:
        mentions, people = _with_authors(side, passages[-1], mentions, people)
    return mentions, people


def stored_authors(metadata: dict[str, Any]) -> DocMeta | None:
    """The sidecar authors a stored document keeps in its metadata (sidecar_metadata), for a
    re-tag: the catalog has no sidecar, and without them the speaker would be lost."""
    details = metadata.get("author_details") or []
    if not details:
        return None
    return DocMeta(authors=[Author(**d) for d in details], country=metadata.get("country"))


def _with_authors(side: DocMeta, passage: Passage, mentions: list[Mention],
                  people: list[dict[str, Any]]) -> tuple[list[Mention], list[dict[str, Any]]]:
    """Each sidecar author becomes a person mention in the authors passage (replacing what the
    tagger guessed there) and a person record with the post and country as roles."""
    spans = []
    start = passage.text.index(": ") + 2
    for a in side.authors:
        at = passage.text.index(a.name, start)
        spans.append((a, at))
        start = at + len(a.name)
    kept = [m for m in mentions if not (m.passage == passage.id and m.type == "person"
                                        and any(at <= m.start < at + len(a.name) for a, at in spans))]
    by_id = {p["id"]: p for p in people}
    for a, at in spans:
        pid = person_id(a.name)
        kept.append(Mention("person", pid, a.name, a.name, at, at + len(a.name), passage.id, "metadata"))
        rec = by_id.setdefault(pid, {"id": pid, "name": a.name, "honorific": None, "affiliations": [],
                                     "titles": [], "countries": []})
        for field, value in (("titles", a.post), ("affiliations", a.affiliation),
                             ("countries", a.country or side.country)):
            if value and value not in rec.get(field, []):
                rec[field] = [*rec.get(field, []), value]  # a new list: the tagger's record stays as it was
    return kept, list(by_id.values())


def merge_person(catalog: Any, person: dict[str, Any], doc_id: str, year: int | None, title: str | None) -> None:
    """Store one document's record of a person folded into what the catalog knows, by the
    one rule (kb.entities.people.fold_person)."""
    name, data = fold_person(catalog.get_person(person["id"]), person, doc_id, year, title)
    catalog.put_person(person["id"], name, data)


def _first_heading(blocks: list[Block]) -> str | None:
    for b in blocks:
        if b.kind in ("title", "heading") and b.text.strip():
            return b.text.strip()
    return None


def _version() -> str:
    from indexer.extract import EXTRACTOR_VERSION

    return EXTRACTOR_VERSION
