"""Builds small real KB homes for the API and export tests: documents go into the catalog with
Catalog.put_document and into the Whoosh index with index_passages(passage_records(catalog, id)),
exactly the path ingest takes after extraction (no stubs)."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kb.facade import KB
from kb.model import Document, Mention, Passage
from kb.records import passage_records

TOPIC_WORDS = ("broadband", "procurement", "open data", "cybersecurity", "interoperability", "identity")


def add_document(kb: KB, doc_id: str, title: str, texts: list[str], *, fmt: str = "txt",
                 year: int | None = 2012, pages: bool = True, file: Path | None = None,
                 mentions: Iterable[tuple[int, str, str, str, str]] = ()) -> None:
    """mentions: (passage ordinal, type, entity id, name, surface text found in that passage)."""
    passages = [Passage(doc_id=doc_id, ordinal=i, text=t, heading_path=[title, f"Section {i // 3 + 1}"],
                        page_start=(i // 2 + 1) if pages else None, page_end=(i // 2 + 1) if pages else None,
                        language="en")
                for i, t in enumerate(texts)]
    ments = []
    for ordinal, type_, ent_id, name, surface in mentions:
        text = texts[ordinal]
        start = text.index(surface)
        ments.append(Mention(type=type_, id=ent_id, name=name, text=surface, start=start,
                             end=start + len(surface), passage=passages[ordinal].id))
    doc = Document(doc_id, fmt, sha256=hashlib.sha256(("\n".join(texts) + doc_id).encode()).hexdigest(),
                   title=title, size=sum(len(t) for t in texts), page_count=len(texts) // 2 + 1,
                   language="en", year=year)
    with kb.catalog.transaction():
        kb.catalog.put_document(doc, passages, ments)
        if file is not None:
            st = file.stat()
            kb.catalog.add_path(doc_id, str(file), st.st_mtime, st.st_size)
    kb.index.index_passages(passage_records(kb.catalog, doc_id))
    kb.catalog.mark_indexed([doc_id])


def small_corpus(home: Path, files_dir: Path | None = None) -> dict[str, Any]:
    """Three documents with entities; returns their ids and the settings overrides."""
    files_dir = files_dir or home.parent / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    report = files_dir / "seoul report.txt"
    report.write_text("Seoul forum report\n", encoding="utf-8")
    with KB({"home": str(home)}) as kb:
        add_document(kb, "doc-seoul", "Seoul e-Government Forum 2012", [
            "Korea presented its broadband strategy for rural areas.",
            "The Republic of Korea shared e-procurement practice with Kazakhstan.",
            "Open data portals in Latin America were discussed by UNDESA.",
            "=HYPERLINK(\"http://evil.example\",\"click\") was typed in a cell",
            "Cybersecurity and privacy frameworks need capacity building.",
        ], fmt="txt", year=2012, file=report, mentions=[
            (0, "country", "KOR", "Republic of Korea", "Korea"),
            (0, "topic", "broadband", "Broadband", "broadband"),
            (1, "country", "KOR", "Republic of Korea", "Republic of Korea"),
            (1, "country", "KAZ", "Kazakhstan", "Kazakhstan"),
            (1, "topic", "e-procurement", "E-procurement", "e-procurement"),
            (2, "org", "undesa", "UN DESA", "UNDESA"),
        ])
        add_document(kb, "doc-almaty", "Kazakhstan e-Procurement Slides", [
            "Kazakhstan built an e-procurement portal for public tenders.",
            "Broadband coverage grew in Almaty and Astana.",
            "Digital identity and e-signature laws were adopted.",
        ], fmt="pptx", year=2013, mentions=[
            (0, "country", "KAZ", "Kazakhstan", "Kazakhstan"),
            (0, "topic", "e-procurement", "E-procurement", "e-procurement"),
        ])
        add_document(kb, "doc-notes", "Notes without pages", [
            "Interoperability frameworks for broadband services.",
        ], fmt="md", year=None, pages=False)
    return {"home": str(home), "files": files_dir, "report": report,
            "doc_ids": ["doc-seoul", "doc-almaty", "doc-notes"]}
