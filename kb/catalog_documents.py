"""The catalog's documents aggregate (a mixin of kb.store.Catalog): documents, the paths
they were seen at, their passages and entity mentions, and the index bookkeeping.

Crash safety: a document is written with ``indexed = 0`` in the caller's transaction; the
index is committed after; then the flag is set (mark_indexed). Deleted documents go through
the ``index_deletes`` queue the same way; ``pending_index_work`` tells what to redo after a
crash. Every write that changes what the pages show bumps the catalog's change counter
(Catalog._changed) and keeps the entity summaries (kb.summary) in step."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from kb import summary
from kb.model import Document, Mention, Passage
from kb.timestamps import now_iso


class DocumentStore:
    db: sqlite3.Connection  # the Catalog's; its _changed() and transaction() are used here

    # -- paths and documents --------------------------------------------------
    def path_state(self, path: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT p.path, p.doc_id, p.mtime, p.size, d.sha256 FROM document_paths p "
            "JOIN documents d ON d.id = p.doc_id WHERE p.path = ?", (path,)).fetchone()

    def doc_by_sha(self, sha256: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM documents WHERE sha256 = ?", (sha256,)).fetchone()

    def get_document(self, doc_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        doc = _document_dict(row)
        doc["paths"] = [r[0] for r in self.db.execute(
            "SELECT path FROM document_paths WHERE doc_id = ? ORDER BY path", (doc_id,))]
        return doc

    def list_documents(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT d.*, (SELECT COUNT(*) FROM passages p WHERE p.doc_id = d.id) AS passage_count "
            "FROM documents d ORDER BY d.title COLLATE NOCASE, d.id LIMIT ? OFFSET ?", (limit, offset))
        return [_document_dict(r) for r in rows]

    def newest_ingest(self) -> str | None:
        """When the most recently ingested document was (ISO 8601), None for an empty catalog."""
        return self.db.execute("SELECT MAX(ingested_at) FROM documents").fetchone()[0]

    def count_documents(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]

    def all_doc_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM documents ORDER BY id")]

    def put_document(self, doc: Document, passages: list[Passage], mentions: Iterable[Mention]) -> None:
        """Insert or replace a document with its passages and mentions (one transaction
        is the caller's). The document is marked not yet indexed."""
        db = self.db
        mentions = list(mentions)
        summary.remove(db, doc.id)
        db.execute("DELETE FROM documents WHERE id = ?", (doc.id,))
        db.execute(
            "INSERT INTO documents (id, sha256, title, format, size, page_count, language, year, "
            "source_id, metadata, extractor_version, ingested_at, indexed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (doc.id, doc.content_key, doc.title, doc.format, doc.size, doc.page_count, doc.language,
             doc.year, doc.source_id, json.dumps(doc.metadata or {}, ensure_ascii=False, default=str),
             doc.extractor_version, doc.ingested_at or now_iso()))
        db.executemany(
            "INSERT INTO passages (id, doc_id, ordinal, text, heading_path, page_start, page_end, "
            "char_start, char_end, kind, language, ocr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(p.id, p.doc_id, p.ordinal, p.text, json.dumps(p.heading_path, ensure_ascii=False),
              p.page_start, p.page_end, p.char_start, p.char_end, p.kind, p.language, int(p.ocr))
             for p in passages])
        db.executemany(
            "INSERT INTO mentions (passage_id, doc_id, type, entity_id, name, text, start, end, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(m.passage, doc.id, m.type, m.id, m.name, m.text, m.start, m.end, m.source)
             for m in mentions])
        summary.add(db, doc.id, ((m.passage, m.type, m.id, m.name) for m in mentions))
        self._changed()
        db.execute("DELETE FROM index_deletes WHERE doc_id = ?", (doc.id,))

    def replace_mentions(self, doc_id: str, mentions: Iterable[Mention]) -> None:
        """Re-tagging (after curation) without re-extraction; marks the document for re-indexing."""
        mentions = list(mentions)
        summary.remove(self.db, doc_id)
        self.db.execute("DELETE FROM mentions WHERE doc_id = ?", (doc_id,))
        self.db.executemany(
            "INSERT INTO mentions (passage_id, doc_id, type, entity_id, name, text, start, end, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(m.passage, doc_id, m.type, m.id, m.name, m.text, m.start, m.end, m.source) for m in mentions])
        summary.add(self.db, doc_id, ((m.passage, m.type, m.id, m.name) for m in mentions))
        self._changed()
        self.db.execute("UPDATE documents SET indexed = 0 WHERE id = ?", (doc_id,))

    def add_path(self, doc_id: str, path: str, mtime: float | None, size: int | None) -> None:
        self.db.execute(
            "INSERT INTO document_paths (path, doc_id, mtime, size, seen_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET doc_id = excluded.doc_id, mtime = excluded.mtime, "
            "size = excluded.size, seen_at = excluded.seen_at", (path, doc_id, mtime, size, now_iso()))
        self.db.execute("DELETE FROM failures WHERE path = ?", (path,))

    def remove_path(self, path: str) -> str | None:
        """Forget a path; delete its document when no path is left. Returns the deleted doc id."""
        row = self.db.execute("SELECT doc_id FROM document_paths WHERE path = ?", (path,)).fetchone()
        if row is None:
            return None
        self.db.execute("DELETE FROM document_paths WHERE path = ?", (path,))
        return self.delete_if_orphan(row[0])

    def delete_if_orphan(self, doc_id: str) -> str | None:
        left = self.db.execute("SELECT COUNT(*) FROM document_paths WHERE doc_id = ?", (doc_id,)).fetchone()[0]
        if left:
            return None
        self.delete_document(doc_id)
        return doc_id

    def delete_document(self, doc_id: str) -> None:
        summary.remove(self.db, doc_id)
        self.db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        self._changed()
        self.db.execute("INSERT OR IGNORE INTO index_deletes (doc_id) VALUES (?)", (doc_id,))

    def paths_with_prefix(self, prefix: str) -> list[str]:
        # The records of a collection file are stored at "<file path>#<record id>".
        rows = self.db.execute("SELECT path FROM document_paths WHERE substr(path, 1, ?) = ?", (len(prefix), prefix))
        return [r[0] for r in rows]

    def all_paths(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM document_paths ORDER BY path")]

    # -- index bookkeeping ----------------------------------------------------
    def pending_index_work(self) -> tuple[list[str], list[str]]:
        """(doc ids to (re)index, doc ids to delete from the index)."""
        todo = [r[0] for r in self.db.execute("SELECT id FROM documents WHERE indexed = 0 ORDER BY id")]
        gone = [r[0] for r in self.db.execute("SELECT doc_id FROM index_deletes ORDER BY doc_id")]
        return todo, gone

    def mark_indexed(self, doc_ids: Iterable[str], deleted: Iterable[str] = ()) -> None:
        with self.transaction():
            self.db.executemany("UPDATE documents SET indexed = 1 WHERE id = ?", [(d,) for d in doc_ids])
            self.db.executemany("DELETE FROM index_deletes WHERE doc_id = ?", [(d,) for d in deleted])

    # -- passages and mentions ------------------------------------------------
    def passages(self, doc_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM passages WHERE doc_id = ? ORDER BY ordinal", (doc_id,))
        return [_passage_dict(r) for r in rows]

    def passage(self, passage_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM passages WHERE id = ?", (passage_id,)).fetchone()
        return _passage_dict(row) if row else None

    def count_passages(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]

    def passage_counts(self) -> dict[str, int]:
        """Passages per document, every document included (0 when it has none)."""
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT d.id, COUNT(p.id) FROM documents d LEFT JOIN passages p ON p.doc_id = d.id GROUP BY d.id")}

    def docs_mentioning(self, type_: str, entity_id: str) -> list[str]:
        """Documents with a mention of this entity (the ones a curation of it re-tags)."""
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT doc_id FROM mentions WHERE type = ? AND entity_id = ? ORDER BY doc_id", (type_, entity_id))]

    def docs_containing(self, text: str) -> list[str]:
        """Documents with a passage containing `text`, compared case-folded (Unicode, not
        only ASCII as SQLite's lower()): the ones an alias or a rejected surface may change.
        A scan of the passages; a curation is rare and the answer must be exact."""
        self.db.create_function("kb_casefold", 1, _casefold, deterministic=True)
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT doc_id FROM passages WHERE instr(kb_casefold(text), ?) > 0 ORDER BY doc_id",
            (text.casefold(),))]

    def mentions(self, doc_id: str | None = None, passage_id: str | None = None) -> list[dict[str, Any]]:
        if passage_id is not None:
            rows = self.db.execute("SELECT * FROM mentions WHERE passage_id = ? ORDER BY start", (passage_id,))
        elif doc_id is not None:
            rows = self.db.execute("SELECT * FROM mentions WHERE doc_id = ? ORDER BY passage_id, start", (doc_id,))
        else:
            rows = self.db.execute("SELECT * FROM mentions")
        return [dict(r) for r in rows]

    def entity_rows(self, doc_id: str) -> list[dict[str, Any]]:
        """A document's mentions as (passage_id, type, entity_id, text), in passage and offset
        order: what the index records (kb.records) and entity salience are made from."""
        return [dict(r) for r in self.db.execute(
            "SELECT passage_id, type, entity_id, text FROM mentions WHERE doc_id = ? ORDER BY passage_id, start",
            (doc_id,))]


def _casefold(text: str | None) -> str | None:
    return text.casefold() if text is not None else None


def _document_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["metadata"] = json.loads(d.get("metadata") or "{}")
    d.pop("indexed", None)
    return d


def _passage_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["heading_path"] = json.loads(d["heading_path"])
    d["ocr"] = bool(d["ocr"])
    return d


