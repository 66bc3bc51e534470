"""Helpers shared by the API views: argument parsing, auth, rate limiting, JSON responses."""
from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import orjson
from flask import Response, current_app, request

from kb import auth
from kb.errors import LimitExceededError, NotFoundError
from kb.facade import KB
from web.params import MAX_PAGE, int_param

# ASCII ids (hex document ids, slugs, ISO codes); the OpenAPI document publishes these patterns.
DOC_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
ENTITY_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


# orjson writes UTF-8 bytes in one pass (json.dumps built a str, then Flask encoded it: ~8%
# of a search request). The same JSON as before: keys sorted as Flask sorted them, anything
# else (dates, dataclasses, numpy scalars) through str() as before.
_JSON_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                 | orjson.OPT_PASSTHROUGH_DATACLASS)


def ok(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    resp = Response(orjson.dumps(data, default=str, option=_JSON_OPTIONS), status=status, mimetype="application/json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    return int_param(request.args, name, default, lo, hi)




def paging(settings: Mapping[str, Any]) -> tuple[int, int]:
    page = int_arg("page", 1, 1, MAX_PAGE)
    per_page = int_arg("per_page", int(settings["page_size"]), 1, int(settings["max_page_size"]))
    return page, per_page


def check_doc_id(doc_id: str) -> str:
    """Ids are looked up in the catalog, never joined to a path; a malformed one is simply
    not a document (404), so probing with ../ or %2e%2e learns nothing."""
    if not DOC_ID.match(doc_id or "") or ".." in doc_id:
        raise NotFoundError("no such document")
    return doc_id


def check_entity_id(entity_id: str) -> str:
    if not ENTITY_ID.match(entity_id or ""):
        raise NotFoundError("no such entity")
    return entity_id


def require_token(kb: KB) -> dict[str, Any]:
    """The caller's token record, or AuthError (401)."""
    return auth.verify_token(kb.catalog, auth.bearer(request.headers.get("Authorization")))


class RateLimiter:
    """Sliding window of start times per client, in process memory. With several gunicorn
    workers each keeps its own window, so the effective limit is per worker: a guard against
    one client hogging the machine, not an accounting system."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, client: str, limit: int, window: float = 60.0, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._hits.setdefault(client, deque())
            while q and q[0] <= now - window:
                q.popleft()
            if len(q) >= limit:
                retry = max(1, math.ceil(q[0] + window - now))
                raise LimitExceededError(f"export rate limit: {limit} per minute; retry in {retry} s",
                                         retry_after=retry, status=429)
            q.append(now)
            if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
                for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - window]:
                    del self._hits[key]


def export_limiter() -> RateLimiter:
    return current_app.extensions.setdefault("kb_export_limiter", RateLimiter())


def client_address() -> str:
    # ProxyFix (when configured) has already replaced remote_addr with the forwarded one.
    return request.remote_addr or "unknown"
