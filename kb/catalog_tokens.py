"""The catalog's API tokens (a mixin of kb.store.Catalog): only hashes are stored."""
from __future__ import annotations

import sqlite3
from typing import Any

from kb.timestamps import now_iso


class TokenStore:
    db: sqlite3.Connection

    def add_token(self, name: str, token_hash: str) -> int:
        cur = self.db.execute("INSERT INTO tokens (name, hash, created_at) VALUES (?, ?, ?)", (name, token_hash, now_iso()))
        return int(cur.lastrowid)

    def token_by_hash(self, token_hash: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM tokens WHERE hash = ? AND revoked_at IS NULL", (token_hash,)).fetchone()

    def revoke_token(self, name_or_id: str) -> int:
        cur = self.db.execute("UPDATE tokens SET revoked_at = ? WHERE (name = ? OR CAST(id AS TEXT) = ?) AND revoked_at IS NULL",
                              (now_iso(), name_or_id, name_or_id))
        return cur.rowcount

    def tokens(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT id, name, created_at, revoked_at FROM tokens ORDER BY id")]
