"""The catalog's curation log and people (a mixin of kb.store.Catalog): curator actions,
person records built from the documents, and entity counts from the summaries."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from kb.timestamps import now_iso


class CurationStore:
    db: sqlite3.Connection  # the Catalog's connection; Catalog._changed bumps the page caches' key

    def add_curation(self, action: str, value: str, type_: str | None = None, entity_id: str | None = None) -> int:
        cur = self.db.execute("INSERT INTO curation (action, type, entity_id, value, created_at) VALUES (?, ?, ?, ?, ?)",
                              (action, type_, entity_id, value, now_iso()))
        self._changed()  # entity pages show aliases and merges: their caches must see it
        return int(cur.lastrowid)

    def curation_version(self) -> int:
        """The last curation row's number: caches of what the curation shapes (the registry,
        search-time entity resolution, results) are keyed by it. One lookup of the primary key."""
        return int(self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM curation").fetchone()[0])

    def curation(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM curation ORDER BY seq")]

    def put_person(self, person_id: str, name: str, data: dict[str, Any]) -> None:
        self._changed()
        self.db.execute("INSERT INTO people (id, name, data) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                        "name = excluded.name, data = excluded.data", (person_id, name, json.dumps(data, ensure_ascii=False)))

    def get_person(self, person_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT id, name, data FROM people WHERE id = ?", (person_id,)).fetchone()
        return {"id": row[0], "name": row[1], **json.loads(row[2])} if row else None

    def people(self) -> list[dict[str, Any]]:
        return [{"id": r[0], "name": r[1], **json.loads(r[2])} for r in self.db.execute("SELECT id, name, data FROM people ORDER BY name")]

    def entity_counts(self, type_: str | None = None) -> list[dict[str, Any]]:
        # From the summaries (kb.summary): the same figures as grouping every mention, in
        # a table the size of the entity list rather than of the corpus.
        sql = ("SELECT n.type, n.entity_id, MAX(n.name) AS name, SUM(n.mentions) AS mentions, "
               "(SELECT COUNT(*) FROM entity_docs d WHERE d.type = n.type AND d.entity_id = n.entity_id) AS documents "
               "FROM entity_names n {} GROUP BY n.type, n.entity_id ORDER BY mentions DESC, n.entity_id")
        if type_:
            rows = self.db.execute(sql.format("WHERE n.type = ?"), (type_,))
        else:
            rows = self.db.execute(sql.format(""))
        return [dict(r) for r in rows]
