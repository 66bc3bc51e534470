"""Paging cursors: ``<offset>.<query hash>``, the offset of the next page in the paging order
(kb.search.whoosh.hits.paging_order) and 12 hex digits hashing the query, filters, sort and
grouping it belongs to. The format is published (CURSOR_PATTERN is the API's schema for it)
so that every string a client may send is either a well-formed cursor or plainly not one;
clients should still treat it as opaque and only send back a `next_cursor` they were given."""
from __future__ import annotations

import re

from kb.errors import CursorMismatchError, InvalidInputError

CURSOR_PATTERN = r"^[0-9]{1,9}\.[0-9a-f]{12}$"
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(offset: int, qhash: str) -> str:
    return f"{int(offset)}.{qhash}"


def decode_cursor(cursor: str, qhash: str) -> int:
    """The offset a cursor names; InvalidInputError when it is not a cursor at all,
    CursorMismatchError when it was made for another query, filters, sort or grouping."""
    if not _CURSOR.match(cursor or ""):
        raise InvalidInputError("the cursor is malformed: send back a next_cursor as given (<offset>.<hash>)")
    offset, _, h = cursor.partition(".")
    if h != qhash:
        raise CursorMismatchError("the cursor belongs to another query, filters, sort or grouping")
    return int(offset)
