"""Opaque paging cursors: the offset of the next page bound to a hash of the query, so a
cursor cannot be replayed against a different query by mistake."""
from __future__ import annotations

import base64
import json

from kb.errors import InvalidInputError


def encode_cursor(offset: int, qhash: str) -> str:
    raw = json.dumps({"o": int(offset), "h": qhash}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, qhash: str) -> int:
    try:
        pad = "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(cursor + pad))
        offset, h = int(data["o"]), str(data["h"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError("the cursor is malformed") from exc
    if h != qhash or offset < 0:
        raise InvalidInputError("the cursor belongs to another query or sort")
    return offset
