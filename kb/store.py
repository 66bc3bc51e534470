"""The catalog: SQLite (standard library, WAL), the source of truth.

Documents, the paths they were seen at, passages, entity mentions, curation, ingest runs,
per-file failures and the extraction cache. The search index is rebuilt from here alone.

Crash safety: a document is written to the catalog with ``indexed = 0`` in one transaction;
the index is committed after; then the flag is set. Deleted documents go through the
``index_deletes`` queue the same way. ``pending_index_work`` tells what to redo after a crash.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kb import summary
from kb.catalog_curation import CurationStore
from kb.catalog_documents import DocumentStore
from kb.catalog_ingest import IngestLog
from kb.catalog_pages import PageReads
from kb.catalog_saved import SavedSearchStore
from kb.catalog_tokens import TokenStore
from kb.errors import BusyError, CatalogError

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


class Catalog(DocumentStore, IngestLog, CurationStore, PageReads, SavedSearchStore, TokenStore):
    """One connection to the catalog database. Not shared across threads.

    The aggregates live in their own modules as mixins over this connection: documents,
    paths, passages, mentions and the index bookkeeping (kb.catalog_documents), ingest
    bookkeeping (kb.catalog_ingest), curation and people (kb.catalog_curation), saved searches
    (kb.catalog_saved), API tokens (kb.catalog_tokens), the pages' read model
    (kb.catalog_pages); the connection, the schema, transactions and meta here."""

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


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
