"""OpenAPI components (schemas, parameters, responses) as plain dicts for apispec.

Kept permissive where the read models are rich (entity pages, dossiers): the API promises
the named fields and their types, and may add fields without a new version.
"""
from __future__ import annotations

from typing import Any

from kb.export import COLUMNS, FORMATS
from kb.model import ENTITY_TYPES
from kb.search.cursor import CURSOR_PATTERN
from web.api.common import DOC_ID, ENTITY_ID
from web.params import FILTER_PATTERN, FLAG_VALUES, TEXT_FILTER_PATTERN, YEAR_PATTERN

S = dict[str, Any]


def nullable(t: str, **extra: Any) -> S:
    return {"type": [t, "null"], **extra}


OBJ: S = {"type": "object"}
ARR_OBJ: S = {"type": "array", "items": OBJ}

PROBLEM: S = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "URI reference naming the problem"},
        "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
        "code": {"type": "string", "description": "kb's machine code (kb.errors)"},
        "instance": nullable("string"),
    },
}

HIT: S = {
    "type": "object",
    "required": ["passage_id", "doc_id", "title", "snippet", "score"],
    "properties": {
        "passage_id": {"type": "string"}, "doc_id": {"type": "string"}, "ordinal": {"type": "integer"},
        "title": {"type": "string"}, "path": {"type": "string"}, "source_id": nullable("string"),
        "format": {"type": "string"}, "page_start": nullable("integer"), "page_end": nullable("integer"),
        "heading_path": {"type": "array", "items": {"type": "string"}}, "text": {"type": "string"},
        "snippet": {"type": "string", "description": "HTML-escaped text with <mark> around matches"},
        "score": {"type": "number"}, "year": nullable("integer"), "lang": nullable("string"),
        "entities": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "added": {**nullable("string"), "description": "when the document was ingested (ISO 8601, UTC)"},
    },
}

FACET_VALUE: S = {"type": "object", "required": ["value", "count"],
                  "properties": {"value": {"type": ["string", "integer"]}, "count": {"type": "integer"}}}

SEARCH_RESULT: S = {
    "type": "object",
    "required": ["total", "page", "per_page", "results", "facets"],
    "properties": {
        "query": {"type": "string"}, "total": {"type": "integer", "minimum": 0},
        "page": {"type": "integer"}, "per_page": {"type": "integer"},
        "next_cursor": nullable("string"), "suggestion": nullable("string"),
        "corrected_query": nullable("string"),
        "took_ms": {"type": "number"}, "truncated": {"type": "boolean"},
        "mode": {"type": "string", "enum": ["bm25", "hybrid"]}, "mode_reason": {"type": "string"},
        "results": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
        "facets": {"type": "object", "additionalProperties": {"type": "array", "items": FACET_VALUE}},
        "links": OBJ,
    },
}

DOCUMENT: S = {
    "type": "object",
    "required": ["id", "format"],
    "properties": {
        "id": {"type": "string"}, "title": nullable("string"), "format": {"type": "string"},
        "size": nullable("integer"), "page_count": nullable("integer"), "language": nullable("string"),
        "year": nullable("integer"), "source_id": nullable("string"), "metadata": OBJ,
        "ingested_at": {"type": "string"}, "passage_count": {"type": "integer"},
        "sha256": {"type": "string"}, "file_name": nullable("string"), "links": OBJ,
    },
}

EXPORT_PROVENANCE: S = {
    "type": "object",
    "description": "Where an export comes from (meta=1; `kb export -o FILE` writes the same to FILE.provenance.json)",
    "required": ["query", "filters", "sort", "build_id", "exported_at", "format", "passages"],
    "properties": {
        "query": {"type": "string"}, "sort": {"type": "string"}, "build_id": nullable("string"),
        "filters": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "exported_at": {"type": "string", "format": "date-time"}, "generator": {"type": "string"},
        "format": {"type": "string", "enum": [f for f in FORMATS if f != "json"]},
        "passages": {"type": "integer", "minimum": 0, "description": "Passages the export holds"},
        "columns": {"type": "array", "items": {"type": "string", "enum": list(COLUMNS)}},
        "file": {"type": "string", "description": "The export's download name"},
    },
}

PAGED = {"total": {"type": "integer", "minimum": 0}, "page": {"type": "integer"}, "per_page": {"type": "integer"}}

SCHEMAS: dict[str, S] = {
    "Problem": PROBLEM,
    "Hit": HIT,
    "SearchResult": SEARCH_RESULT,
    "Document": DOCUMENT,
    "ExportProvenance": EXPORT_PROVENANCE,
    "DocumentList": {"type": "object", "required": ["total", "documents"], "properties": {
        **PAGED, "documents": {"type": "array", "items": {"$ref": "#/components/schemas/Document"}}}},
    "DocumentView": {"type": "object", "required": ["document", "passages"], "properties": {
        "document": {"$ref": "#/components/schemas/Document"}, "page_unit": {"type": "string"},
        "passages": {"type": "array", "items": {"type": "object", "required": ["id", "text"], "properties": {
            "id": {"type": "string"}, "text": {"type": "string"}, "ordinal": {"type": "integer"},
            "page_start": nullable("integer"), "page_end": nullable("integer"),
            "heading_path": {"type": "array", "items": {"type": "string"}}, "mentions": ARR_OBJ}}},
        "entities": OBJ}},
    "Entity": {"type": "object", "required": ["type", "id", "mentions"], "properties": {
        "type": {"type": "string", "enum": list(ENTITY_TYPES)}, "id": {"type": "string"},
        "name": nullable("string"), "mentions": {"type": "integer"}, "documents": {"type": "integer"},
        "links": OBJ}},
    "EntityList": {"type": "object", "required": ["total", "entities"], "properties": {
        **PAGED, "type": nullable("string"),
        "entities": {"type": "array", "items": {"$ref": "#/components/schemas/Entity"}}}},
    "EntityPage": {"type": "object", "required": ["type", "record"], "properties": {
        "type": {"type": "string"}, "record": OBJ, "totals": OBJ, "related": OBJ,
        "documents": ARR_OBJ, "passages": ARR_OBJ, "timeline": ARR_OBJ}},
    "CountryDossier": {"type": "object", "required": ["record"], "properties": {
        "record": OBJ, "totals": OBJ, "documents": ARR_OBJ, "passages": ARR_OBJ,
        "organisations": ARR_OBJ, "people": ARR_OBJ, "topics": ARR_OBJ, "peers": ARR_OBJ,
        "timeline": ARR_OBJ}},
    "Stats": {"type": "object", "required": ["catalog"], "properties": {"catalog": OBJ, "corpus": OBJ}},
    "Health": {"type": "object", "required": ["status"], "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]}, "documents": {"type": "integer"},
        "passages": {"type": "integer"}, "unindexed": {"type": "integer"}, "index_build": nullable("string")}},
    "UploadResult": {"type": "object", "required": ["status"], "properties": {
        "status": {"type": "string", "enum": ["added", "updated", "unchanged"]},
        "document": {"oneOf": [{"$ref": "#/components/schemas/Document"}, {"type": "null"}]},
        "summary": nullable("object")}},
    "Deleted": {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "string"}}},
    "Curation": {"type": "object", "required": ["seq", "action", "value", "applied"], "properties": {
        "seq": {"type": "integer"}, "action": {"type": "string"}, "type": {"type": ["string", "null"]},
        "id": {"type": ["string", "null"]}, "value": {"type": "string"}, "by": {"type": "string"},
        "documents": {"type": "integer", "description": "documents re-tagged (or to re-tag, with a job)"},
        "passages": {"type": "integer", "description": "passages re-tagged"},
        "job": {"type": ["string", "null"], "description": "the background job re-tagging, past the bound"},
        "applied": {"type": "string", "description": "what happened, in words"},
        "links": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "Job": {"type": "object", "required": ["id", "kind", "state"], "properties": {
        "id": {"type": "string"}, "kind": {"type": "string"},
        "state": {"type": "string", "enum": ["queued", "running", "done", "failed", "interrupted"],
                  "description": "interrupted: the process running it stopped (see hint)"},
        "hint": {"type": "string", "description": "how to finish an interrupted job"},
        "done": {"type": "integer"}, "total": {"type": "integer"},
        "created_at": {"type": "string"}, "started_at": {"type": "string"}, "finished_at": {"type": "string"},
        "result": {"type": "object"}, "error": {"type": "string"}}},
    "SavedSearch": {"type": "object", "required": ["id", "name", "query", "filters", "links"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "query": {"type": "string"},
        "filters": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "created_by": {"type": ["string", "null"]}, "created_at": {"type": "string"},
        "recent": {"type": "integer", "description": "passages added in the last recent_days days"},
        "recent_days": {"type": "integer"},
        "links": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "SavedFilterValues": {"type": "array", "items": {"type": "string", "pattern": "^[^\\x00-\\x1f\\x7f,]{1,200}$"}},
    "SavedYearValues": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{4}$"}},
    "SavedSearchList": {"type": "object", "required": ["saved_searches"], "properties": {
        "saved_searches": {"type": "array", "items": {"$ref": "#/components/schemas/SavedSearch"}}}},
}

# The server checks filter values against these same patterns (web.params.filter_params).
META_VALUES = ("0", "1", "inline")


def parameters(max_page_size: int, max_query_length: int) -> dict[str, S]:
    def q(name: str, schema: S, description: str) -> S:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    params = {
        "q": q("q", {"type": "string", "maxLength": max_query_length},
               "Query: words, \"phrases\", AND/OR/NOT, field:value, wildcards"),
        "sort": q("sort", {"type": "string", "enum": ["relevance", "date", "title", "added"]},
                  "Result order (added: newest ingested first)"),
        "page": q("page", {"type": "integer", "minimum": 1, "maximum": 100000}, "Page number (small offsets)"),
        "per_page": q("per_page", {"type": "integer", "minimum": 1, "maximum": max_page_size}, "Results per page"),
        "cursor": q("cursor", {"type": "string", "pattern": CURSOR_PATTERN},
                    "The next_cursor of the previous page, sent back as given (wins over page). Its form is "
                    "`<offset>.<hash>`: the offset of the next page and 12 hex digits hashing the query, "
                    "filters, sort and grouping it belongs to; with any other of those it is a 409."),
        "max_per_document": q("max_per_document", {"type": "integer", "minimum": 0, "maximum": 1000},
                              "0 (default): plain result order. N: group the results so that every document's "
                              "first N passages come before any document's next N (the UI's order). A grouping, "
                              "never a cap: paging still reaches every match once."),
        "meta": q("meta", {"type": "string", "enum": list(META_VALUES)},
                  "Exports only. 0 (default): the file, its provenance in X-KB-* headers and a Link "
                  "(rel=describedby) to meta=1. 1: that provenance as JSON (ExportProvenance) instead of "
                  "the file. inline: the file with the provenance inside: a first '#' comment row (CSV, "
                  "not RFC 4180) or a first {\"type\": \"meta\"} line (JSONL); XLSX always has a "
                  "provenance sheet, RIS and BibTeX a note."),
        "facets": q("facets", {"type": "string", "enum": list(FLAG_VALUES)}, "Include facet counts"),
        "mode": q("mode", {"type": "string", "enum": ["bm25", "hybrid"]},
                  "Ranking: hybrid (BM25 fused with passage vectors) or bm25; default the search_mode "
                  "setting. Hybrid runs once every passage has a vector, for plain-word queries ranked "
                  "by relevance; otherwise bm25 runs and the result's mode_reason says why"),
        "correct": q("correct", {"type": "string", "enum": list(FLAG_VALUES)},
                     "Replace words no passage holds by the nearest known word (default 1); "
                     "the query that ran is returned as corrected_query"),
        "format": q("format", {"type": "string", "enum": list(FORMATS)},
                    "json (default) or an export format: every match, streamed, no cap"),
        "bom": q("bom", {"type": "string", "enum": list(FLAG_VALUES)}, "CSV: start with a UTF-8 BOM (Excel)"),
        "year": q("year", {"type": "array", "items": {"type": "string", "pattern": YEAR_PATTERN}},
                  "Year(s), comma-separated or repeated: OR"),
        "doc_id": {"name": "id", "in": "path", "required": True,
                   "schema": {"type": "string", "pattern": DOC_ID.pattern}, "description": "Document id"},
        "entity_type": {"name": "type", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": list(ENTITY_TYPES)}},
        "entity_id": {"name": "id", "in": "path", "required": True,
                      "schema": {"type": "string", "pattern": ENTITY_ID.pattern},
                      "description": "Canonical id: KOR, undesa, open-data, a person slug"},
    }
    for name in ("country", "region", "org", "person", "topic", "type", "lang"):
        params[name] = q(name, {"type": "array", "items": {"type": "string", "pattern": FILTER_PATTERN}},
                         f"Filter on {name} (ids, comma-separated or repeated: OR)")
    params["collection"] = q("collection", {"type": "array", "items": {"type": "string", "pattern": TEXT_FILTER_PATTERN}},
                             "Filter on collection (sidecar or collection name; comma-separated or repeated: OR)")
    return params


def _problem(description: str, headers: S | None = None) -> S:
    out: S = {"description": description,
              "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    if headers:
        out["headers"] = headers
    return out


RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}

RESPONSES: dict[str, S] = {
    "BadRequest": _problem("Malformed request or query"),
    "Unauthorized": _problem("Missing, unknown or revoked token"),
    "NotFound": _problem("No such resource"),
    "TooLarge": _problem("Upload larger than upload_max_mb"),
    "Unsupported": _problem("File type not accepted"),
    "Unprocessable": _problem("The file could not be read; nothing was changed"),
    "TooManyRequests": _problem("Export rate exceeded", RETRY_AFTER),
    "CursorMismatch": _problem("The cursor was made for another query, filters, sort or grouping"),
    "Conflict": _problem("Well-formed but contradicting itself (e.g. merging an entity into itself)"),
    "Unavailable": _problem("Busy (another writer) or the index is unavailable", RETRY_AFTER),
    "MethodNotAllowed": _problem("Wrong HTTP method for this path (see the Allow header)"),
    "ServerError": _problem("Unexpected error (no details leak)"),
    "UriTooLong": {"description": "Request line longer than the HTTP server accepts (gunicorn's limit, "
                                  "answered by the server before kb: a short text/html page)",
                   "content": {"text/html": {"schema": {"type": "string"}}}},
}
