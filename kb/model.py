"""Plain data objects that flow from extraction to search.

They carry no behaviour beyond (de)serialisation, so every layer can build and read them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Block kinds an extractor may emit.
BLOCK_KINDS = (
    "title",  # document or slide title
    "heading",  # section heading; `level` 1..6
    "paragraph",
    "list_item",
    "table_row",  # one row of a table, cells joined; a row is never split
    "note",  # speaker notes, footnotes
    "caption",
)


@dataclass
class Block:
    kind: str
    text: str
    page: int | None = None  # 1-based page or slide number; None for unpaged formats
    level: int = 0  # heading level (1 = top); 0 for non-headings
    ocr: bool = False  # text produced by OCR rather than a text layer
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. {"sheet": "Sheet1"}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Extracted:
    """What an extractor returns for one file."""

    format: str  # short format name: pdf, pptx, docx, xlsx, html, txt, md, jsonl, csv
    blocks: list[Block]
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    created: str | None = None  # ISO 8601 date or datetime, when the file says
    modified: str | None = None
    page_count: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # outline, warnings, etc.
    warnings: list[str] = field(default_factory=list)  # e.g. "page 3: no text layer"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Extracted:
        fields = dict(data)
        fields["blocks"] = [Block(**b) for b in data.get("blocks", [])]
        return cls(**fields)


@dataclass
class Record:
    """One document from a JSONL/CSV record collection (source_id, title, text, meta)."""

    source_id: str
    title: str | None
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Passage:
    """The unit of search: a paragraph-sized span under one heading path."""

    doc_id: str
    ordinal: int  # 0-based position in the document
    text: str
    heading_path: list[str] = field(default_factory=list)
    page_start: int | None = None
    page_end: int | None = None
    char_start: int = 0  # offsets into the document's full text
    char_end: int = 0
    kind: str = "paragraph"  # dominant block kind: paragraph, table_row, note, ...
    language: str | None = None
    ocr: bool = False

    @property
    def id(self) -> str:
        return passage_id(self.doc_id, self.ordinal)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["id"] = self.id
        return d


def passage_id(doc_id: str, ordinal: int) -> str:
    return f"{doc_id}-{ordinal}"


@dataclass
class Mention:
    """An entity found in a passage: character offsets are into the passage text."""

    type: str  # country, region, org, person, topic
    id: str  # canonical id: KOR, undesa, open-data, person slug
    name: str  # canonical name
    text: str  # surface text as written
    start: int
    end: int
    passage: str | None = None  # passage id, when known
    source: str = "rule"  # rule, model, curation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ENTITY_TYPES = ("country", "region", "org", "person", "topic")


@dataclass
class Document:
    """One document as the catalog stores it (kb.store.Catalog.put_document)."""

    id: str  # indexer.documents.document_id of a file, record_doc_id of a record
    format: str  # short format name: pdf, pptx, ..., jsonl, csv
    sha256: str | None = None  # the file's content hash; None for a record (no bytes of its own)
    title: str | None = None
    size: int | None = None  # bytes of the file; None for a record
    page_count: int | None = None
    language: str | None = None
    year: int | None = None
    source_id: str | None = None  # a record's id in its collection
    metadata: dict[str, Any] = field(default_factory=dict)
    extractor_version: str | None = None
    ingested_at: str | None = None  # None: now, when stored

    @property
    def content_key(self) -> str:
        """What makes two documents the same content (the catalog's unique documents.sha256):
        a file's hash; a record's id, itself a hash of the record's fields."""
        return self.sha256 or self.id


@dataclass
class BuiltDocument:
    """What a worker makes of one file or record and the single writer stores: the document,
    the catalog path it was found at, its passages, mentions and the people seen in it."""

    document: Document
    path: str  # a file's absolute path, or "<collection path>#<record id>"
    passages: list[Passage]
    mentions: list[Mention]
    people: list[dict[str, Any]] = field(default_factory=list)
