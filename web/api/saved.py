"""Saved searches (kb.saved): list is open, create and delete need a token."""
from __future__ import annotations

from typing import Any

from flask import Response, request

from kb import saved
from kb.errors import InvalidInputError
from web.api.blueprint import bp
from web.api.common import ok, require_token
from web.db import get_kb, writer_kb


@bp.get("/saved-searches")
def list_saved() -> Response:
    """Saved searches.
    ---
    get:
      operationId: listSavedSearches
      summary: Saved searches with the passages added in the last 30 days and their feed and export links
      responses:
        '200':
          description: The saved searches
          content:
            application/json: {schema: {$ref: '#/components/schemas/SavedSearchList'}}
    """
    return ok({"saved_searches": saved.with_counts(get_kb())})


@bp.post("/saved-searches")
def create_saved() -> Response:
    """Save a search.
    ---
    post:
      operationId: createSavedSearch
      summary: Save a named search (query and filters; needs a token)
      security: [{bearer: []}]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name: {type: string, minLength: 1, maxLength: 100, pattern: '\\S'}
                q: {type: string, maxLength: 1000}
                filters:
                  type: object
                  description: field -> values (OR within a field, AND across); none, with no q, follows everything
                  additionalProperties: false
                  properties:
                    country: {$ref: '#/components/schemas/SavedFilterValues'}
                    region: {$ref: '#/components/schemas/SavedFilterValues'}
                    org: {$ref: '#/components/schemas/SavedFilterValues'}
                    person: {$ref: '#/components/schemas/SavedFilterValues'}
                    topic: {$ref: '#/components/schemas/SavedFilterValues'}
                    type: {$ref: '#/components/schemas/SavedFilterValues'}
                    year: {$ref: '#/components/schemas/SavedYearValues'}
                    lang: {$ref: '#/components/schemas/SavedFilterValues'}
                    collection: {$ref: '#/components/schemas/SavedFilterValues'}
      responses:
        '201':
          description: Saved
          content:
            application/json: {schema: {$ref: '#/components/schemas/SavedSearch'}}
        '400': BadRequest
        '401': Unauthorized
        '409': Conflict
        '503': Unavailable
    """
    kb = get_kb()
    token = require_token(kb)
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInputError("send a JSON object with 'name', 'q' and/or 'filters'")
    for key in ("q", "filters"):
        if key in body and body[key] is None:
            raise InvalidInputError(f"'{key}' must be left out rather than null")
    with writer_kb() as writer:
        made = saved.create(writer.catalog, body.get("name"), body.get("q"), body.get("filters"), token["name"])
    return ok(made.to_dict(), status=201, headers={"Location": f"/api/v1/saved-searches/{made.id}"})


@bp.delete("/saved-searches/<int:saved_id>")
def delete_saved(saved_id: int) -> Response:
    """Delete a saved search.
    ---
    delete:
      operationId: deleteSavedSearch
      summary: Delete a saved search (needs a token)
      security: [{bearer: []}]
      parameters:
        - name: saved_id
          in: path
          required: true
          schema: {type: integer, minimum: 1}
      responses:
        '200':
          description: Deleted
          content:
            application/json: {schema: {$ref: '#/components/schemas/SavedSearch'}}
        '401': Unauthorized
        '404': NotFound
        '503': Unavailable
    """
    kb = get_kb()
    require_token(kb)
    with writer_kb() as writer:
        gone = saved.delete(writer.catalog, saved_id)
    return ok(gone.to_dict())
