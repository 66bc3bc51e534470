"""Documents: list, one document with its passages, the original file, upload, delete."""
from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from flask import Response, request, send_file

from kb import dossier
from kb.errors import InvalidInputError, LimitExceededError, NotFoundError
from kb.facade import KB
from web.api.blueprint import bp
from web.api.common import check_doc_id, ok, paging, require_token
from web.api.sniff import sniff_format
from web.db import get_kb, writer_kb
from web.security import DOWNLOAD_CSP

MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html", "txt": "text/plain", "md": "text/markdown", "csv": "text/csv",
    "jsonl": "application/x-ndjson", "json": "application/json",
}
# Catalog fields a client may see; local paths stay on the server (only the file name leaves).
PUBLIC_FIELDS = ("id", "title", "format", "size", "page_count", "language", "year", "source_id",
                 "metadata", "ingested_at", "passage_count", "sha256")


def public_doc(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: doc.get(k) for k in PUBLIC_FIELDS if k in doc}
    paths = doc.get("paths") or []
    out["file_name"] = Path(paths[0]).name if paths else None
    out["links"] = {"self": f"/api/v1/documents/{doc['id']}", "file": f"/api/v1/documents/{doc['id']}/file"}
    return out


@bp.get("/documents")
def list_documents() -> Response:
    """Documents in the catalog, paged.
    ---
    get:
      operationId: listDocuments
      summary: Documents in the catalog, by title, paged
      parameters:
        - page
        - per_page
      responses:
        '200':
          description: One page of documents
          content:
            application/json: {schema: {$ref: '#/components/schemas/DocumentList'}}
        '400': BadRequest
    """
    kb = get_kb()
    page, per_page = paging(kb.settings)
    total = kb.catalog.count_documents()
    docs = kb.catalog.list_documents(limit=per_page, offset=(page - 1) * per_page)
    return ok({"total": total, "page": page, "per_page": per_page,
               "documents": [public_doc(d) for d in docs]})


@bp.get("/documents/<doc_id>")
def get_document(doc_id: str) -> Response:
    """One document: metadata, passages with their entity mentions, entities.
    ---
    get:
      operationId: getDocument
      summary: A document's metadata and passages (with entity mentions)
      parameters:
        - doc_id
      responses:
        '200':
          description: The document
          content:
            application/json: {schema: {$ref: '#/components/schemas/DocumentView'}}
        '404': NotFound
    """
    kb = get_kb()
    view = dossier.document_view(kb, check_doc_id(doc_id))
    passages = []
    for p in view["passages"]:
        p = {k: v for k, v in p.items() if k not in ("segments", "marker")}
        passages.append(p)
    return ok({"document": public_doc(view["document"]), "page_unit": view["page_unit"],
               "passages": passages, "entities": view["entities"]})


def _download_name(doc: dict[str, Any], path: Path) -> str:
    """ASCII, no quotes, slashes or control characters; the extension of the format."""
    base = doc.get("title") or path.stem
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^A-Za-z0-9._ -]+", "", base).strip(" .")[:80] or "document"
    return f"{base}.{doc['format']}"


@bp.get("/documents/<doc_id>/file")
def get_file(doc_id: str) -> Response:
    """The original file, from the path the catalog recorded at ingest.
    ---
    get:
      operationId: getDocumentFile
      summary: Download the original file
      description: The id is looked up in the catalog; no part of the request becomes a path.
      parameters:
        - doc_id
      responses:
        '200':
          description: The file, as an attachment, with the media type of its format
          content: __FILE_TYPES__
        '404': NotFound
    """
    kb = get_kb()
    doc = kb.document(check_doc_id(doc_id))
    for raw in doc.get("paths") or []:
        path = Path(raw)
        if path.is_file():
            resp = send_file(path, mimetype=MIME.get(doc["format"], "application/octet-stream"),
                             as_attachment=True, download_name=_download_name(doc, path), conditional=True)
            resp.headers["Content-Security-Policy"] = DOWNLOAD_CSP
            return resp
    raise NotFoundError("the original file of this document is no longer available")


# The file's real media types (MIME, and octet-stream for any other format), so the document
# lists what the endpoint can answer.
# A JSON document is any JSON value, not a string.
get_file.__doc__ = (get_file.__doc__ or "").replace("__FILE_TYPES__", "{" + ", ".join(
    f"'{t}': {{schema: {{}}}}" if t.endswith("json") else f"'{t}': {{schema: {{type: string, format: binary}}}}"
    for t in sorted({*MIME.values(), "application/octet-stream"})) + "}")


@bp.post("/documents")
def upload_document() -> Response:
    """Upload a file; it is ingested like a file of the corpus.
    ---
    post:
      operationId: uploadDocument
      summary: Upload and ingest one file (needs a token)
      description: >
        multipart/form-data with a `file` part. The type is decided by the content, not the
        name; the file is saved under a generated name and ingested. A file that cannot be
        read fails with its reason and changes nothing.
      security: [{bearer: []}]
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [file]
              properties:
                file: {type: string, format: binary, minLength: 1}
      responses:
        '201':
          description: Added (or updated)
          content:
            application/json: {schema: {$ref: '#/components/schemas/UploadResult'}}
        '200':
          description: Already in the catalog (same content)
          content:
            application/json: {schema: {$ref: '#/components/schemas/UploadResult'}}
        '400': BadRequest
        '401': Unauthorized
        '413': TooLarge
        '415': Unsupported
        '422': Unprocessable
        '503': Unavailable
    """
    kb = get_kb()
    require_token(kb)  # before reading the body: no token, no upload
    limit = int(kb.settings["upload_max_mb"]) * 1024 * 1024
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise LimitExceededError(f"uploads are limited to {kb.settings['upload_max_mb']} MiB", status=413)
    request.max_content_length = limit + 64 * 1024  # multipart overhead on top of the file
    upload = request.files.get("file")
    if upload is None or not upload.filename and upload.content_length == 0:
        raise InvalidInputError("send the file as the multipart form field 'file'")
    uploads = kb.home / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    tmp = uploads / f".incoming-{uuid.uuid4().hex}"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as out:
            while chunk := upload.stream.read(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise LimitExceededError(f"uploads are limited to {kb.settings['upload_max_mb']} MiB", status=413)
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise InvalidInputError("the uploaded file is empty")
        fmt = sniff_format(tmp, upload.filename or "")
        target = uploads / f"{uuid.uuid4().hex}.{fmt}"
        tmp.rename(target)
    finally:
        tmp.unlink(missing_ok=True)
    return _ingest_upload(kb, target, digest.hexdigest(), upload.filename or "")


def _ingest_upload(kb: KB, target: Path, sha: str, original_name: str) -> Response:
    # web -> indexer: the write path, imported late to keep read-only workers light
    from indexer.library import upload

    with writer_kb() as writer:
        result = upload(writer, target, sha)
    if result.status == "failed":
        from web.errors import problem

        failure = result.failure or {}
        return problem(422, f"{original_name or 'the file'}: {failure.get('reason')}",
                       failure.get("code") or "extraction_failed", summary=_summary(result.summary or {}))
    doc = kb.catalog.get_document(result.doc_id) if result.doc_id else None
    return ok({"status": result.status, "document": public_doc(doc) if doc else None,
               "summary": _summary(result.summary) if result.summary is not None else None},
              status=201 if result.status not in ("unchanged",) else 200)


def _summary(summary: dict[str, Any]) -> dict[str, Any]:
    # Failure paths are server paths: report reasons only.
    keep = ("added", "updated", "unchanged", "failed", "passages", "pages", "seconds")
    out = {k: summary.get(k) for k in keep if k in summary}
    out["failures"] = [{"code": f.get("code"), "reason": f.get("reason")} for f in summary.get("failures") or []]
    return out


@bp.delete("/documents/<doc_id>")
def delete_document(doc_id: str) -> Response:
    """Delete a document from the catalog and the index.
    ---
    delete:
      operationId: deleteDocument
      summary: Delete a document (needs a token)
      security: [{bearer: []}]
      parameters:
        - doc_id
      responses:
        '200':
          description: Deleted
          content:
            application/json: {schema: {$ref: '#/components/schemas/Deleted'}}
        '401': Unauthorized
        '404': NotFound
        '503': Unavailable
    """
    from indexer.library import delete

    kb = get_kb()
    require_token(kb)
    with writer_kb() as writer:
        result = delete(writer, check_doc_id(doc_id))
    return ok({"deleted": result["deleted"]})
