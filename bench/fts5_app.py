"""The floor kb's HTTP search is measured against (bench/api.py): a bare Flask + SQLite FTS5
app over the same passages. One GET /search: the top 10 by bm25 with FTS5 snippet(), a total
count and one GROUP BY facet; JSON out. Run by gunicorn as ``bench.fts5_app:app`` with
KB_FTS5_DB naming the database bench/api.py built (table p: text, title, id, year)."""
from __future__ import annotations

import json
import os
import re
import sqlite3
import threading

from flask import Flask, Response, request

app = Flask(__name__)
_local = threading.local()


def _db() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:  # one read-only connection per server thread
        conn = _local.conn = sqlite3.connect(f"file:{os.environ['KB_FTS5_DB']}?mode=ro", uri=True)
    return conn


@app.get("/search")
def search() -> Response:
    words = re.findall(r"\w+", request.args.get("q", ""))
    if not words:
        return Response('{"error": "q is required"}', 400, mimetype="application/json")
    match = " ".join(f'"{w}"' for w in words)  # every word, as kb's short queries
    db = _db()
    hits = db.execute("SELECT id, title, snippet(p, 0, '<mark>', '</mark>', '…', 40), bm25(p) FROM p "
                      "WHERE p MATCH ? ORDER BY bm25(p) LIMIT 10", (match,)).fetchall()
    total = db.execute("SELECT count(*) FROM p WHERE p MATCH ?", (match,)).fetchone()[0]
    years = db.execute("SELECT year, count(*) FROM p WHERE p MATCH ? GROUP BY year ORDER BY 2 DESC LIMIT 10",
                       (match,)).fetchall()
    body = {"total": total, "results": [{"id": i, "title": t, "snippet": s, "score": -b} for i, t, s, b in hits],
            "facets": {"year": [{"value": y, "count": c} for y, c in years]}}
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")


@app.get("/api/v1/health")
def health() -> Response:
    return Response('{"status": "ok"}', mimetype="application/json")
