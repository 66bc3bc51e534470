"""The catalog's ingest bookkeeping (a mixin of kb.store.Catalog): runs, per-file failures
and the extraction cache keyed by content hash and extractor version."""
from __future__ import annotations

import json
import os
import sqlite3
import zlib
from typing import Any

from kb.timestamps import now_iso


class IngestLog:
    db: sqlite3.Connection

    def start_run(self, args: dict[str, Any]) -> int:
        cur = self.db.execute("INSERT INTO runs (started_at, args) VALUES (?, ?)", (now_iso(), json.dumps(args, default=str)))
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, counts: dict[str, int]) -> None:
        self.db.execute(
            "UPDATE runs SET finished_at = ?, added = ?, updated = ?, unchanged = ?, failed = ?, pruned = ? WHERE id = ?",
            (now_iso(), counts.get("added", 0), counts.get("updated", 0), counts.get("unchanged", 0),
             counts.get("failed", 0), counts.get("pruned", 0), run_id))

    def last_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]

    def record_failure(self, path: str, sha256: str | None, code: str, reason: str, run_id: int | None) -> None:
        self.db.execute(
            "INSERT INTO failures (path, sha256, code, reason, run_id, at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET sha256 = excluded.sha256, code = excluded.code, "
            "reason = excluded.reason, run_id = excluded.run_id, at = excluded.at",
            (path, sha256, code, reason, run_id, now_iso()))

    def clear_failure(self, path: str) -> None:
        self.db.execute("DELETE FROM failures WHERE path = ?", (path,))

    def failure_paths_with_prefix(self, prefixes: tuple[str, ...]) -> list[str]:
        """Failures recorded for sidecar files and their rows ("<sidecar path>#row N")."""
        return [r[0] for r in self.db.execute("SELECT path FROM failures WHERE code = 'invalid_metadata'")
                if r[0].split("#", 1)[0] in prefixes or any(r[0].startswith(p + os.sep) for p in prefixes)]

    def failures(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT path, code, reason, at, sha256 FROM failures ORDER BY path")]

    def failure_for(self, path: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM failures WHERE path = ?", (path,)).fetchone()

    def cache_get(self, sha256: str, version: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT data FROM extraction_cache WHERE sha256 = ? AND extractor_version = ?",
                              (sha256, version)).fetchone()
        if row is None:
            return None
        return json.loads(zlib.decompress(row[0]))

    def cache_put(self, sha256: str, version: str, data: dict[str, Any]) -> None:
        blob = zlib.compress(json.dumps(data, ensure_ascii=False, default=str).encode("utf-8"), 6)
        self.db.execute("INSERT OR REPLACE INTO extraction_cache (sha256, extractor_version, data) VALUES (?, ?, ?)",
                        (sha256, version, blob))
