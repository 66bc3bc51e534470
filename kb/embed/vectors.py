"""Passage vectors in the catalog: table passage_vectors (passage_id, model, vector).

Vectors are float16 blobs (768 bytes a passage; cosine scores move by < 1e-3, far below
the gaps that order results), keyed by passage and model id: a passage whose text changes
gets a new id or is re-inserted (its vector goes with it, ON DELETE CASCADE), and a model
change leaves no vector for the new model id, so everything is embedded again. `kb
reindex` rebuilds the text index from the catalog and never touches this table.

The meta key `vectors` is raised by every write here, so a reader can tell cheaply whether
its cached matrix (kb.embed.dense) is still the catalog's.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator

import numpy as np

from kb.embed.model import DIM


def to_blob(vec: np.ndarray) -> bytes:
    return np.asarray(vec, dtype=np.float16).tobytes()


def from_blobs(blobs: list[bytes]) -> np.ndarray:
    if not blobs:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), DIM).astype(np.float32)


def embedding_text(title: str, heading: str, text: str) -> str:
    """What is embedded for a passage: its document's title and heading path give a short
    passage its subject ("Kazakhstan" in a title, "e-procurement" in a heading)."""
    head = " › ".join(p for p in (title.strip(), heading.strip()) if p)
    return f"{head}\n{text}" if head else text


def missing(db: sqlite3.Connection, model: str, limit: int = 0) -> Iterator[tuple[str, str]]:
    """(passage id, text to embed) of passages without a vector of `model`, in document order."""
    sql = ("SELECT p.id, COALESCE(d.title, ''), p.heading_path, p.text FROM passages p "
           "JOIN documents d ON d.id = p.doc_id "
           "WHERE NOT EXISTS (SELECT 1 FROM passage_vectors v WHERE v.passage_id = p.id AND v.model = ?) "
           "ORDER BY p.doc_id, p.ordinal")
    if limit:
        sql += f" LIMIT {int(limit)}"
    import json

    for pid, title, heading_json, text in db.execute(sql, (model,)).fetchall():
        heading = " › ".join(json.loads(heading_json or "[]"))
        yield pid, embedding_text(title, heading, text)


def count_missing(db: sqlite3.Connection, model: str) -> int:
    return db.execute("SELECT COUNT(*) FROM passages p WHERE NOT EXISTS (SELECT 1 FROM passage_vectors v "
                      "WHERE v.passage_id = p.id AND v.model = ?)", (model,)).fetchone()[0]


def put(db: sqlite3.Connection, model: str, rows: Iterable[tuple[str, np.ndarray]]) -> int:
    """Store vectors (the caller's transaction); passages deleted meanwhile are skipped."""
    data = [(pid, model, to_blob(vec)) for pid, vec in rows]
    db.executemany("INSERT OR REPLACE INTO passage_vectors (passage_id, model, vector) "
                   "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM passages WHERE id = ?)",
                   [(*d, d[0]) for d in data])
    bump(db)
    return len(data)


def drop_other_models(db: sqlite3.Connection, model: str) -> int:
    n = db.execute("DELETE FROM passage_vectors WHERE model != ?", (model,)).rowcount
    if n:
        bump(db)
    return n


def bump(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO meta (key, value) VALUES ('vectors', 1) "
               "ON CONFLICT(key) DO UPDATE SET value = value + 1")


def version(db: sqlite3.Connection) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = 'vectors'").fetchone()
    return str(row[0]) if row else "0"


def state_key(db: sqlite3.Connection) -> tuple[str, str]:
    """The two catalog counters a loaded matrix is valid for: vector writes, document writes."""
    rows = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('vectors', 'changes')").fetchall())
    return str(rows.get("vectors", "0")), str(rows.get("changes", "0"))


def passage_documents(db: sqlite3.Connection) -> dict[str, str]:
    """Every passage's document id (its count is the number of passages)."""
    return dict(db.execute("SELECT id, doc_id FROM passages").fetchall())


def load(db: sqlite3.Connection, model: str) -> tuple[list[str], np.ndarray]:
    """Every vector of `model`: (passage ids, float32 matrix, one row each)."""
    rows = db.execute("SELECT passage_id, vector FROM passage_vectors WHERE model = ? ORDER BY passage_id",
                      (model,)).fetchall()
    return [r[0] for r in rows], from_blobs([r[1] for r in rows])
