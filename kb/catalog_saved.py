"""The catalog's saved searches (a mixin of kb.store.Catalog): a curator's named query and
filters (table ``saved_searches``, schema 4). kb.saved validates them and follows them."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from kb.timestamps import now_iso


class SavedSearchStore:
    db: sqlite3.Connection  # the Catalog's

    def saved_search_exists(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM saved_searches WHERE name = ?", (name,)).fetchone() is not None

    def count_saved_searches(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM saved_searches").fetchone()[0])

    def add_saved_search(self, name: str, query: str, filters: dict[str, list[str]], by: str | None) -> int:
        """The new row's id (the caller's transaction; kb.saved checks name and count first)."""
        cur = self.db.execute(
            "INSERT INTO saved_searches (name, query, filters, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, query, json.dumps(filters, ensure_ascii=False), by, now_iso()))
        return int(cur.lastrowid)

    def saved_search(self, saved_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM saved_searches WHERE id = ?", (saved_id,)).fetchone()
        return _saved(row) if row is not None else None

    def saved_searches(self) -> list[dict[str, Any]]:
        """Every saved search by name; none from a read-only view of a catalog not yet
        migrated to schema 4."""
        try:
            rows = self.db.execute("SELECT * FROM saved_searches ORDER BY name COLLATE NOCASE").fetchall()
        except sqlite3.OperationalError:
            return []
        return [_saved(r) for r in rows]

    def remove_saved_search(self, saved_id: int) -> None:
        self.db.execute("DELETE FROM saved_searches WHERE id = ?", (saved_id,))

    def saved_searches_stamp(self) -> tuple[int, str | None]:
        """Changes with every saved-search write (which are no catalog `changes`): a cache key."""
        try:
            r = self.db.execute("SELECT COUNT(*), MAX(created_at) || '/' || MAX(id) FROM saved_searches").fetchone()
        except sqlite3.OperationalError:
            return 0, None
        return r[0], r[1]


def _saved(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["filters"] = json.loads(d["filters"] or "{}")
    return d
