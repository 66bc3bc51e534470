"""Request-parameter parsing shared by the `ui` and `api` blueprints: one reading of a search
request for both (their differences are a SearchForm), checked against the same patterns the
API's OpenAPI document publishes (web.api.schemas), so the pages and the API accept the
same searches and refuse the same mistakes with the same words."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from kb.errors import InvalidInputError
from kb.search.hybrid import MODES
from kb.search.service import SORTS
from kb.search.types import FACET_FIELDS, SearchRequest

# Ids are ASCII (hex document ids, slugs, ISO codes): an explicit class, not \w, which regex
# engines (and so clients and validators) read differently outside ASCII.
ID_CHARS = r"[A-Za-z0-9_.:-]"
FILTER_PATTERN = rf"^({ID_CHARS}{{1,100}}(,{ID_CHARS}{{1,100}})*)?$"
YEAR_PATTERN = r"^([0-9]{4}(,[0-9]{4})*)?$"
# Collection names are free text (a sidecar's words), comma-separated: no control characters.
TEXT_FILTER_PATTERN = r"^([^\x00-\x1f\x7f,]{1,200}(,[^\x00-\x1f\x7f,]{1,200})*)?$"
FLAG_VALUES = ("0", "1", "true", "false")
MAX_PAGE = 100_000


@dataclass(frozen=True)
class SearchForm:
    """How one surface reads a search from its query string."""
    facet_limit: int | None  # None: the `facet_limit` parameter (default 10); else fixed
    grouping_param: bool  # True: `max_per_document` is a parameter (default 0, plain order);
    # False: the `max_per_document` setting applies (the pages' grouping)
    cursor: bool  # `cursor` is read


API_FORM = SearchForm(facet_limit=None, grouping_param=True, cursor=True)
# The pages show the top 30 values of each facet (the rest behind "more") and group results.
UI_FORM = SearchForm(facet_limit=30, grouping_param=False, cursor=False)


def int_param(args: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """A whole number in [lo, hi] from the query string; missing or empty gives `default`."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{name} must be a whole number, not {raw[:40]!r}") from exc
    if not lo <= value <= hi:
        raise InvalidInputError(f"{name} must be between {lo} and {hi}, not {value}")
    return value


def flag_param(args: Mapping[str, str], name: str, default: bool) -> bool:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in FLAG_VALUES:
        raise InvalidInputError(f"{name} must be 0 or 1")
    return raw in ("1", "true")


def filter_params(args: MultiDict) -> dict[str, list[str]]:
    """Repeated parameters or comma-separated values: OR within a field, AND across fields.
    Each raw value must match its published pattern (an empty value is no filter)."""
    filters: dict[str, list[str]] = {}
    for name in FACET_FIELDS:
        pattern = {"year": YEAR_PATTERN, "collection": TEXT_FILTER_PATTERN}.get(name, FILTER_PATTERN)
        values: list[str] = []
        for raw in args.getlist(name):
            if not re.match(pattern, raw):
                if name == "year":
                    raise InvalidInputError(f"year must be four digits (comma-separated), not {raw[:20]!r}")
                raise InvalidInputError(f"{name}: {raw[:40]!r} is not a valid value (ids, comma-separated)")
            values += [v.strip() for v in raw.split(",") if v.strip()]
        if values:
            filters[name] = list(dict.fromkeys(values))
    return filters


def search_request(args: MultiDict, settings: Mapping[str, Any], form: SearchForm) -> SearchRequest:
    """The SearchRequest a query string asks for; InvalidInputError (400) naming the first
    parameter that is wrong. Limits come from the settings, as the search service checks them."""
    q = (args.get("q") or "").strip()
    if len(q) > int(settings["max_query_length"]):
        raise InvalidInputError(f"the query is longer than {settings['max_query_length']} characters")
    sort = args.get("sort") or "relevance"
    if sort not in SORTS:
        raise InvalidInputError(f"sort must be one of {', '.join(SORTS)}")
    mode = args.get("mode") or None
    if mode is not None and mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}")
    page = int_param(args, "page", 1, 1, MAX_PAGE)
    per_page = int_param(args, "per_page", int(settings["page_size"]), 1, int(settings["max_page_size"]))
    grouping = (int_param(args, "max_per_document", 0, 0, 1000) if form.grouping_param
                else int(settings["max_per_document"]))
    facet_limit = int_param(args, "facet_limit", 10, 0, 1000) if form.facet_limit is None else form.facet_limit
    return SearchRequest(
        q=q, filters=filter_params(args), page=page, per_page=per_page,
        cursor=(args.get("cursor") or None) if form.cursor else None, sort=sort,
        facets=flag_param(args, "facets", True), facet_limit=facet_limit, max_per_document=grouping,
        correct=flag_param(args, "correct", True), mode=mode)
