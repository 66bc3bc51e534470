"""The catalog: SQLite (standard library, WAL), the source of truth.

Documents, the paths they were seen at, passages, entity mentions, curation, ingest runs,
per-file failures and the extraction cache. The search index is rebuilt from here alone.

Crash safety: a document is written to the catalog with ``indexed = 0`` in one transaction;
the index is committed after; then the flag is set. Deleted documents go through the
``index_deletes`` queue the same way. ``pending_index_work`` tells what to redo after a crash.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kb import summary
from kb.catalog_curation import CurationStore
from kb.catalog_ingest import IngestLog
from kb.catalog_tokens import TokenStore
from kb.errors import BusyError, CatalogError
from kb.model import Document, Mention, Passage
from kb.timestamps import now_iso

SCHEMA_VERSION = 5

# Each migration takes the schema from version i to i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        title TEXT,
        format TEXT NOT NULL,
        size INTEGER,
        page_count INTEGER,
        language TEXT,
        year INTEGER,
        source_id TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        extractor_version TEXT,
        ingested_at TEXT NOT NULL,
        indexed INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX documents_source_id ON documents(source_id);
    CREATE TABLE document_paths (
        path TEXT PRIMARY KEY,
        doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        mtime REAL,
        size INTEGER,
        seen_at TEXT NOT NULL
    );
    CREATE INDEX document_paths_doc ON document_paths(doc_id);
    CREATE TABLE passages (
        id TEXT PRIMARY KEY,
        doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        text TEXT NOT NULL,
        heading_path TEXT NOT NULL DEFAULT '[]',
        page_start INTEGER,
        page_end INTEGER,
        char_start INTEGER,
        char_end INTEGER,
        kind TEXT,
        language TEXT,
        ocr INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX passages_doc ON passages(doc_id, ordinal);
    CREATE TABLE mentions (
        passage_id TEXT NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
        doc_id TEXT NOT NULL,
        type TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        name TEXT NOT NULL,
        text TEXT NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        source TEXT NOT NULL DEFAULT 'rule'
    );
    CREATE INDEX mentions_passage ON mentions(passage_id);
    CREATE INDEX mentions_entity ON mentions(type, entity_id);
    CREATE INDEX mentions_doc ON mentions(doc_id);
    CREATE TABLE people (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE curation (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL CHECK (action IN ('alias', 'merge', 'reject')),
        type TEXT,
        entity_id TEXT,
        value TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        args TEXT,
        added INTEGER DEFAULT 0, updated INTEGER DEFAULT 0, unchanged INTEGER DEFAULT 0,
        failed INTEGER DEFAULT 0, pruned INTEGER DEFAULT 0
    );
    CREATE TABLE failures (
        path TEXT PRIMARY KEY,
        sha256 TEXT,
        code TEXT NOT NULL,
        reason TEXT NOT NULL,
        run_id INTEGER,
        at TEXT NOT NULL
    );
    CREATE TABLE extraction_cache (
        sha256 TEXT NOT NULL,
        extractor_version TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (sha256, extractor_version)
    );
    CREATE TABLE index_deletes (doc_id TEXT PRIMARY KEY);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    """,
    """
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    """,
    # The entity pages find an entity's passages in a document from this index alone
    # (kb.queries.Neighbourhood); doc_id stays its first column for everything else.
    """
    DROP INDEX mentions_doc;
    CREATE INDEX mentions_doc ON mentions(doc_id, type, entity_id, passage_id, start);
    """ + summary.DDL,
    # Saved searches (kb.saved): curators' named query + filters. Catalog rows, so they
    # survive `kb reindex`; the ingest time they count new passages by is documents.ingested_at.
    """
    CREATE TABLE saved_searches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        query TEXT NOT NULL DEFAULT '',
        filters TEXT NOT NULL DEFAULT '{}',
        created_by TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX documents_ingested ON documents(ingested_at);
    """,
    # Passage vectors for hybrid search (kb.embed.vectors): one row per passage and model,
    # gone with the passage; `kb reindex` never touches them.
    """
    CREATE TABLE passage_vectors (
        passage_id TEXT NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (passage_id, model)
    );
    """,
]
assert len(MIGRATIONS) == SCHEMA_VERSION
# Python run after a version's SQL, in the same transaction: version 3 fills the entity
# summaries from the mentions already stored (about 15 s at 1M mentions, once).
AFTER_MIGRATION: dict[int, Callable[[sqlite3.Connection], None]] = {3: summary.rebuild}


class Catalog(IngestLog, CurationStore, TokenStore):
    """One connection to the catalog database. Not shared across threads.

    The aggregates live in their own modules as mixins over this connection: ingest
    bookkeeping (kb.catalog_ingest), curation and people (kb.catalog_curation), API tokens
    (kb.catalog_tokens); documents, passages, mentions and the index bookkeeping here."""

    def __init__(self, path: str | Path, timeout: float = 30.0, readonly: bool = False) -> None:
        self.path = Path(path)
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None,
                                      check_same_thread=False)
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot open catalog {self.path}: {exc}") from exc
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if not readonly:
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()

    def close(self) -> None:
        self.db.close()

    # -- schema ---------------------------------------------------------------
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise CatalogError(f"catalog schema {current} is newer than this kb ({SCHEMA_VERSION})")
        for version in range(current, SCHEMA_VERSION):
            with self.transaction():
                if self.schema_version() > version:
                    continue  # another process migrated while this one waited for the lock
                for statement in _split_sql(MIGRATIONS[version]):
                    self.db.execute(statement)
                if version + 1 in AFTER_MIGRATION:
                    AFTER_MIGRATION[version + 1](self.db)
                self.db.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back and re-raised on any error."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise BusyError(f"the catalog is locked by another writer: {exc}") from exc
            raise
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # -- meta -----------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, value))

    def changes(self) -> int:
        """A counter raised by every write that changes what the pages show (documents,
        mentions, people), so a cache keyed on it is never stale."""
        return int(self.get_meta("changes", "0") or 0)

    def _changed(self) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES ('changes', 1) "
                        "ON CONFLICT(key) DO UPDATE SET value = value + 1")

    def rebuild_summaries(self) -> None:
        """Recompute the entity summaries (kb.summary) from the mentions."""
        with self.transaction():
            summary.rebuild(self.db)
            self._changed()

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

    # -- figures --------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        q = lambda sql: self.db.execute(sql).fetchone()[0]
        by_format = {r[0]: r[1] for r in self.db.execute("SELECT format, COUNT(*) FROM documents GROUP BY format ORDER BY 2 DESC")}
        by_type = {r[0]: r[1] for r in self.db.execute(
            "SELECT type, COUNT(DISTINCT entity_id) FROM entity_names GROUP BY type")}
        return {
            "documents": q("SELECT COUNT(*) FROM documents"),
            "passages": q("SELECT COUNT(*) FROM passages"),
            "pages": q("SELECT COALESCE(SUM(page_count), 0) FROM documents"),
            "paths": q("SELECT COUNT(*) FROM document_paths"),
            "failures": q("SELECT COUNT(*) FROM failures"),
            "mentions": q("SELECT COUNT(*) FROM mentions"),
            "formats": by_format,
            "entities": by_type,
            "unindexed": q("SELECT COUNT(*) FROM documents WHERE indexed = 0"),
            "schema_version": self.schema_version(),
        }


def _casefold(text: str | None) -> str | None:
    return text.casefold() if text is not None else None


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


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


