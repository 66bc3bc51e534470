"""Corpus figures and health."""
from __future__ import annotations

from flask import Response

from kb import dossier
from kb.errors import KBError
from kb.export import build_id
from web.api.blueprint import bp
from web.api.common import ok
from web.db import get_kb


@bp.get("/stats")
def stats() -> Response:
    """Corpus figures.
    ---
    get:
      operationId: stats
      summary: Corpus figures (documents, passages, pages, formats, entities, years)
      responses:
        '200':
          description: Figures
          content:
            application/json: {schema: {$ref: '#/components/schemas/Stats'}}
    """
    kb = get_kb()
    return ok({"catalog": kb.stats(), "corpus": dossier.corpus_figures(kb)})


@bp.get("/health")
def health() -> Response:
    """Liveness and readiness.
    ---
    get:
      operationId: health
      summary: Whether the catalog and the index answer
      responses:
        '200':
          description: Healthy
          content:
            application/json: {schema: {$ref: '#/components/schemas/Health'}}
        '503':
          description: The catalog or the index does not answer
          content:
            application/json: {schema: {$ref: '#/components/schemas/Health'}}
    """
    kb = get_kb()
    body: dict = {"status": "ok"}
    try:
        s = kb.stats()
        body.update(documents=s["documents"], passages=s["passages"], unindexed=s["unindexed"])
    except KBError as exc:
        body.update(status="unavailable", catalog=str(exc))
    try:
        body["index_build"] = build_id(kb.index)
    except KBError as exc:
        body.update(status="unavailable", index=str(exc))
    return ok(body, status=200 if body["status"] == "ok" else 503)
