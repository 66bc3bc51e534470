"""Query-string parsing for the search pages: strict, so a bad link gets a 400 page rather
than a silently different search."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from kb.errors import InvalidInputError
from kb.search.types import FACET_FIELDS, SearchRequest
from web.params import UI_FORM
from web.params import search_request as shared_search_request

# UI parameter names; `org` etc. are the index's field names.
FILTER_PARAMS = FACET_FIELDS
_PASSAGE = re.compile(r"^[\w.\-:]{1,200}$")




def search_request(args: MultiDict, settings: Mapping[str, Any]) -> SearchRequest:
    """The pages' reading of a search (web.params, the same as the API's but for the fixed
    facet depth and the per-document grouping of the `max_per_document` setting)."""
    return shared_search_request(args, settings, UI_FORM)


def like_param(args: MultiDict) -> str | None:
    like = args.get("like")
    if like is None or like == "":
        return None
    if not _PASSAGE.match(like):
        raise InvalidInputError(f"like: {like!r} is not a passage id")
    return like


def query_string(args: MultiDict, drop: tuple[str, str | None] | None = None,
                 **changes: Any) -> str:
    """The current query with one filter value removed (`drop`) and/or keys replaced."""
    if not isinstance(args, MultiDict):
        args = MultiDict(args)
    items = [(k, v) for k, v in args.items(multi=True) if v not in ("", None)]
    if drop is not None:
        key, value = drop
        items = [(k, v) for k, v in items if not (k == key and (value is None or v == value))]
    for key, value in changes.items():
        items = [(k, v) for k, v in items if k != key]
        if value is not None:
            items.append((key, str(value)))
    return urlencode(items)
