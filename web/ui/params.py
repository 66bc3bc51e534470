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
from web.params import int_param

# UI parameter names; `org` etc. are the index's field names.
FILTER_PARAMS = FACET_FIELDS
SORTS = ("relevance", "date", "title", "added")
FACET_LIMIT = 30  # values per facet: the top ones shown, the rest behind "more"
_YEAR = re.compile(r"^\d{4}$")
_ID = re.compile(r"^[\w.\-:]{1,100}$")
_TEXT_VALUE = re.compile(r"^[^\x00-\x1f\x7f,]{1,200}$")  # collection names are free text
_PASSAGE = re.compile(r"^[\w.\-:]{1,200}$")




def search_request(args: MultiDict, settings: Mapping[str, Any]) -> SearchRequest:
    q = (args.get("q") or "").strip()
    if len(q) > int(settings["max_query_length"]):
        raise InvalidInputError(f"the query is longer than {settings['max_query_length']} characters")
    filters: dict[str, list[str]] = {}
    for name in FILTER_PARAMS:
        values = [v.strip() for v in args.getlist(name) if v.strip()]
        for v in values:
            if name == "year" and not _YEAR.match(v):
                raise InvalidInputError(f"year must be four digits, not {v!r}")
            if name != "year" and not (_TEXT_VALUE if name == "collection" else _ID).match(v):
                raise InvalidInputError(f"{name}: {v!r} is not a valid value")
        if values:
            filters[name] = list(dict.fromkeys(values))
    sort = args.get("sort") or "relevance"
    if sort not in SORTS:
        raise InvalidInputError(f"sort must be one of {', '.join(SORTS)}")
    per_page = int_param(args, "per_page", int(settings["page_size"]), 1, int(settings["max_page_size"]))
    page = int_param(args, "page", 1, 1, 10_000)
    return SearchRequest(q=q, filters=filters, page=page, per_page=per_page, sort=sort,
                         facets=True, facet_limit=FACET_LIMIT,
                         max_per_document=int(settings["max_per_document"]),
                         correct=args.get("correct") != "0")


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
