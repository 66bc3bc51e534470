"""One error shape: RFC 9457 problem+json under /api, the `error.html` page elsewhere.

kb.errors classes know nothing of HTTP; the mapping to status codes lives here only. An
unhandled exception is logged with its traceback and answered with a bare 500: the client
never sees a traceback, a path or an exception message it was not meant to.
"""
from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, current_app, redirect, render_template, request
from jinja2 import TemplateNotFound
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from kb import errors as E

API_PREFIX = "/api/"
PROBLEM_TYPE = "application/problem+json"

# Most specific class first: the first isinstance match wins.
STATUS_BY_ERROR: tuple[tuple[type[E.KBError], int], ...] = (
    (E.ConflictError, 409),  # well-formed but contradicting itself (a cursor of another query)
    (E.InvalidInputError, 400),  # includes InvalidQueryError
    (E.AuthError, 401),
    (E.NotFoundError, 404),
    (E.UnsupportedFormatError, 415),
    (E.ExtractionError, 422),  # an uploaded file that cannot be read: its reason, nothing else
    (E.BusyError, 503),
    (E.IndexError_, 503),
    (E.BackendUnavailableError, 503),
    (E.LimitExceededError, 429),  # 413 when the limit is a size (see status_for)
    (E.KBError, 500),
)


def status_for(exc: E.KBError) -> int:
    if isinstance(exc, E.LimitExceededError):
        explicit = exc.details.get("status")
        if explicit in (413, 429):
            return int(explicit)
        return 429 if exc.retry_after is not None else 413
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(status: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None,
            **extra: Any) -> Response:
    """An application/problem+json response (type, title, status, detail, plus extensions)."""
    code = code or _title(status).lower().replace(" ", "_")
    body = {"type": f"/api/v1/docs#problem-{code}", "title": _title(status), "status": status,
            "detail": detail, "code": code, "instance": request.path if request else None}
    body.update(extra)
    resp = Response(json.dumps(body, ensure_ascii=False, default=str), status=status, mimetype=PROBLEM_TYPE)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _html(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    title = _title(status)
    try:
        body = render_template("error.html", code=status, title=title, detail=detail)
    except TemplateNotFound:
        body = None
    except Exception:  # a broken error page must not hide the original error
        current_app.logger.exception("error.html failed to render")
        body = None
    if body is None:
        body = (f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{status} {escape(title)}</title>"
                f"<h1>{status} {escape(title)}</h1><p>{escape(detail)}</p></html>")
    resp = Response(body, status=status, mimetype="text/html")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _respond(status: int, detail: str, code: str | None, headers: dict[str, str]) -> Response:
    if request.path.startswith(API_PREFIX) or request.path.rstrip("/") == "/api":
        return problem(status, detail, code, headers)
    return _html(status, detail, headers)


def _moved(exc: E.MovedError) -> Response:
    """A merged entity's page (API or UI) redirects to the target's: the same route with the
    target's id as its last segment. Temporary (302 / 307): a curator may curate again."""
    url = request.path.rsplit("/", 1)[0] + "/" + quote(exc.target, safe="")
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return redirect(url, code=307 if request.path.startswith(API_PREFIX) else 302)


def handle_kb_error(exc: E.KBError) -> Response:
    if isinstance(exc, E.MovedError):
        return _moved(exc)
    status = status_for(exc)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="kb"'
    retry = getattr(exc, "retry_after", None)
    if status in (429, 503):
        headers["Retry-After"] = str(int(retry) if retry is not None else 5)
    if status >= 500:
        current_app.logger.error("kb error %s: %s", exc.code, exc)
        detail = "the service cannot answer right now" if status == 503 else "an internal error occurred"
        if status == 503:
            detail = f"{detail}: {exc}" if isinstance(exc, E.BusyError) else detail
            if isinstance(exc, E.BackendUnavailableError):
                detail = "search backend unavailable"  # never the cluster's URLs
    else:
        detail = str(exc)
    return _respond(status, detail, exc.code, headers)


def handle_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers: dict[str, str] = {}
    valid = getattr(exc, "valid_methods", None)
    if valid:
        headers["Allow"] = ", ".join(sorted(valid))
    detail = exc.description or _title(status)
    if status == 404 and request.path.startswith(API_PREFIX):
        detail = f"no API resource at {request.path}"
    if status == 405:
        detail = f"{request.method} is not allowed here"
    return _respond(status, detail, None, headers)


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_error(exc)
    if isinstance(exc, E.KBError):
        return handle_kb_error(exc)
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return _respond(500, "an internal error occurred", "internal_error", {})


def register(app: Flask) -> None:
    app.register_error_handler(E.KBError, handle_kb_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
