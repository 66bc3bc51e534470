"""One helper for the index tests: a complete passage record (kb.search.types.PassageRecord,
every key the backends read), as kb.records.passage_records makes them from the catalog.
Tests state only what matters to them."""
from __future__ import annotations

from typing import Any


def passage_record(doc: str, i: int, text: str, **fields: Any) -> dict[str, Any]:
    """Passage `i` of document `doc`; `fields` override the defaults (a 2020 text file
    titled "Report <doc>", no pages, no entities)."""
    record = {"id": f"{doc}-{i}", "doc_id": doc, "ordinal": i, "text": text, "title": f"Report {doc}",
              "heading": "", "path": f"{doc}.txt", "source_id": None, "type": "txt", "year": 2020,
              "lang": "en", "page_start": None, "page_end": None, "date": None,
              "country": [], "region": [], "org": [], "person": [], "topic": []}
    record.update(fields)
    return record


def record_of(passage_id: str, text: str, **fields: Any) -> dict[str, Any]:
    """The same, named by passage id ("doc-3")."""
    doc, _, ordinal = passage_id.rpartition("-")
    return passage_record(doc, int(ordinal), text, **fields)
