"""Entities and countries (read models from kb.dossier) and curation writes."""
from __future__ import annotations

import re
from typing import Any

from flask import Response, request

from kb import dossier
from kb.errors import InvalidInputError, NotFoundError
from kb.model import ENTITY_TYPES
from web.api.blueprint import bp
from web.api.common import ENTITY_ID, check_entity_id, ok, paging, require_token
from web.db import get_kb, writer_kb

_ISO3 = re.compile(r"^[A-Za-z]{3}$")
_JOB_ID = re.compile(r"^[0-9a-f]{16}$")
# action path segment -> (catalog action, JSON body field holding the value)
_BLANK = " \t\n\r\f\v"
CURATION = {"aliases": ("alias", "alias"), "merge": ("merge", "into"), "reject": ("reject", "text")}


def _type(type_: str | None) -> str | None:
    if type_ is not None and type_ not in ENTITY_TYPES:
        raise InvalidInputError(f"type must be one of {', '.join(ENTITY_TYPES)}")
    return type_


@bp.get("/entities")
def list_entities() -> Response:
    """Entities seen in the corpus with mention and document counts.
    ---
    get:
      operationId: listEntities
      summary: Entities with counts, most mentioned first
      parameters:
        - name: type
          in: query
          schema: {type: string, enum: [country, region, org, person, topic]}
        - page
        - per_page
      responses:
        '200':
          description: One page of entities
          content:
            application/json: {schema: {$ref: '#/components/schemas/EntityList'}}
        '400': BadRequest
    """
    kb = get_kb()
    type_ = _type(request.args.get("type") or None)
    page, per_page = paging(kb.settings)
    rows = dossier.entity_index(kb, type_)
    start = (page - 1) * per_page
    items = [{"type": r["type"], "id": r["entity_id"], "name": r["name"], "mentions": r["mentions"],
              "documents": r["documents"], "links": {"self": f"/api/v1/entities/{r['type']}/{r['entity_id']}"}}
             for r in rows[start:start + per_page]]
    return ok({"total": len(rows), "page": page, "per_page": per_page, "type": type_, "entities": items})


@bp.get("/entities/<type_>/<entity_id>")
def get_entity(type_: str, entity_id: str) -> Response:
    """One entity: its record, related entities and passages.
    ---
    get:
      operationId: getEntity
      summary: An entity's record, related entities, documents and passages
      parameters:
        - entity_type
        - entity_id
      responses:
        '200':
          description: The entity page data
          content:
            application/json: {schema: {$ref: '#/components/schemas/EntityPage'}}
        '400': BadRequest
        '404': NotFound
    """
    kb = get_kb()
    _type(type_)
    return ok(dossier.entity_page(kb, type_, check_entity_id(entity_id)))


@bp.get("/countries/<iso3>")
def get_country(iso3: str) -> Response:
    """A country dossier.
    ---
    get:
      operationId: getCountry
      summary: A country's dossier (record, documents, practices by topic, organisations, people, peers, indicators)
      parameters:
        - name: iso3
          in: path
          required: true
          schema: {type: string, pattern: '^[A-Za-z]{3}$'}
      responses:
        '200':
          description: The dossier data
          content:
            application/json: {schema: {$ref: '#/components/schemas/CountryDossier'}}
        '404': NotFound
    """
    if not _ISO3.match(iso3):
        raise NotFoundError(f"{iso3[:10]!r} is not an ISO 3166 alpha-3 code")
    return ok(dossier.country_dossier(get_kb(), iso3.upper()))


def _curate(type_: str, entity_id: str, action: str) -> Response:
    kb = get_kb()
    token = require_token(kb)
    _type(type_)
    check_entity_id(entity_id)
    body: Any = request.get_json(silent=True)
    name, field = CURATION[action]
    if not isinstance(body, dict):
        raise InvalidInputError(f"send a JSON object with {field!r}")
    if action == "reject" and field not in body:
        body = {field: entity_id}  # rejecting the entity itself
    value = body.get(field)
    # ASCII white space only, as the documented pattern says: what the schema accepts, the server accepts.
    if not isinstance(value, str) or not value.strip(_BLANK) or len(value) > 300:
        raise InvalidInputError(f"{field!r} must be a non-empty string of at most 300 characters")
    value = value.strip(_BLANK)
    if action == "merge" and not ENTITY_ID.match(value):
        raise InvalidInputError(f"'into' must be an entity id, not {value[:40]!r}")
    from indexer.library import curate  # web -> indexer: the write path

    with writer_kb() as writer:
        result = curate(writer, name, type_, entity_id, value)
    out = {**result.to_dict(), "by": token["name"], "links": {}}
    if result.job:
        out["links"]["status"] = f"/api/v1/jobs/{result.job}"
        resp = ok(out, status=202)
        resp.headers["Location"] = out["links"]["status"]
        return resp
    return ok(out, status=201)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    """A background job of the write path (a curation re-tagging many documents).
    ---
    get:
      operationId: getJob
      summary: State and progress of a background job
      parameters:
        - name: job_id
          in: path
          required: true
          schema: {type: string, pattern: '^[0-9a-f]{16}$'}
      responses:
        '200':
          description: The job
          content:
            application/json: {schema: {$ref: '#/components/schemas/Job'}}
        '404': NotFound
    """
    from indexer.library import job_status

    if not _JOB_ID.match(job_id):
        raise NotFoundError("no such job")
    job = job_status(get_kb().catalog, job_id)
    if job is None:
        raise NotFoundError("no such job")
    return ok(job)


_CURATION_DOC = """
    post:
      operationId: {op}
      summary: {summary} (needs a token)
      security: [{{bearer: []}}]
      parameters:
        - entity_type
        - entity_id
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              {required}
              properties:
                {field}: {value_schema}
      responses:
        '201':
          description: Recorded, and the documents it changes re-tagged and re-indexed
          content:
            application/json: {{schema: {{$ref: '#/components/schemas/Curation'}}}}
        '202':
          description: Recorded; past the bound, a background job re-tags (links.status)
          content:
            application/json: {{schema: {{$ref: '#/components/schemas/Curation'}}}}
        '400': BadRequest
        '401': Unauthorized
        '404': NotFound
        '409': Conflict
        '503': Unavailable
"""


def _curation_view(action: str, op: str, summary: str) -> None:
    def view(type_: str, entity_id: str) -> Response:
        return _curate(type_, entity_id, action)

    view.__name__ = f"curate_{action}"
    field = CURATION[action][1]
    # Some non-space character (the value is stripped); merge names an entity id.
    value_schema = (f"{{type: string, pattern: '{ENTITY_ID.pattern}'}}" if action == "merge" else
                    "{type: string, minLength: 1, maxLength: 300, pattern: '[^ \\t\\n\\r\\f\\v]'}")
    view.__doc__ = f"{summary}.\n    ---" + _CURATION_DOC.format(
        op=op, summary=summary, field=field, value_schema=value_schema,
        required="" if action == "reject" else f"required: [{field}]")
    bp.post(f"/entities/<type_>/<entity_id>/{action}")(view)


_curation_view("aliases", "addAlias", "Add an alias to an entity")
_curation_view("merge", "mergeEntity", "Merge this entity into another ('into')")
_curation_view("reject", "rejectEntity", "Reject a mention text, or the entity itself")
