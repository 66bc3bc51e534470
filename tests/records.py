"""One helper for the index tests: a complete passage record (kb.search.types.PassageRecord),
as kb.records.passage_records makes them from the catalog. Tests state only what matters to
them."""
from __future__ import annotations

from typing import Any

from kb.search.types import PassageRecord


def passage_record(doc: str, i: int, text: str, **fields: Any) -> PassageRecord:
    """Passage `i` of document `doc`; `fields` override the defaults (a 2020 text file
    titled "Report <doc>", no heading, no pages, no entities)."""
    defaults: dict[str, Any] = {"title": f"Report {doc}", "path": f"{doc}.txt", "format": "txt", "year": 2020,
                                "lang": "en"}
    return PassageRecord(id=f"{doc}-{i}", doc_id=doc, ordinal=i, text=text, **{**defaults, **fields})


def record_of(passage_id: str, text: str, **fields: Any) -> PassageRecord:
    """The same, named by passage id ("doc-3")."""
    doc, _, ordinal = passage_id.rpartition("-")
    return passage_record(doc, int(ordinal), text, **fields)
