"""Saved searches: a curator's named query + filters, kept in the catalog (table
``saved_searches``, schema 4), so they survive `kb reindex`. Each one is followed through its
Atom feed (newest ingested first) and counted by the passages added in the last days."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from kb.errors import ConflictError, InvalidInputError, NotFoundError
from kb.search.types import FACET_FIELDS, SearchRequest
from kb.store import Catalog

RECENT_DAYS = 30
MAX_SAVED = 500  # a curator's list, not a store of every query ever run


@dataclass
class SavedSearch:
    id: int
    name: str
    query: str
    filters: dict[str, list[str]] = field(default_factory=dict)
    created_by: str | None = None
    created_at: str = ""

    def params(self, **extra: str) -> str:
        """The search as a query string (q, one pair per filter value, extras)."""
        pairs = [("q", self.query)] if self.query else []
        pairs += [(k, v) for k, vs in sorted(self.filters.items()) for v in vs]
        return urlencode(pairs + list(extra.items()))

    def links(self) -> dict[str, str]:
        return {"search": "/search?" + self.params(), "feed": "/search.atom?" + self.params(sort="added"),
                "export_csv": "/api/v1/search?" + self.params(format="csv"),
                "export_ris": "/api/v1/search?" + self.params(format="ris")}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "links": self.links()}


def _row(r: dict[str, Any]) -> SavedSearch:
    return SavedSearch(id=r["id"], name=r["name"], query=r["query"], filters=r["filters"],
                       created_by=r["created_by"], created_at=r["created_at"])


# The values a search filter takes (the API's patterns): years, or ids and names without commas
# or control characters (commas separate values in a search URL).
_YEAR = re.compile(r"^[0-9]{4}$")
_VALUE = re.compile(r"^[^\x00-\x1f\x7f,]{1,200}$")


def validate(name: Any, query: Any, filters: Any) -> tuple[str, str, dict[str, list[str]]]:
    """Clean name, query and filters, or InvalidInputError with one line saying what is wrong."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise InvalidInputError("a saved search needs a name of 1 to 100 characters")
    if query is None:
        query = ""
    if not isinstance(query, str) or len(query) > 1000:
        raise InvalidInputError("the query must be text of at most 1,000 characters")
    filters = {} if filters is None else filters
    if not isinstance(filters, dict):
        raise InvalidInputError("filters must be an object: {field: [values]}")
    clean: dict[str, list[str]] = {}
    for key, values in filters.items():
        if key not in FACET_FIELDS:
            raise InvalidInputError(f"unknown filter {key!r}; use one of {', '.join(FACET_FIELDS)}")
        value_re = _YEAR if key == "year" else _VALUE
        if not isinstance(values, list) or not all(isinstance(v, str) and value_re.match(v) for v in values):
            what = "four-digit years" if key == "year" else "values of 1 to 200 characters without commas"
            raise InvalidInputError(f"filter {key!r} must be a list of {what}")
        if values:
            clean[key] = list(dict.fromkeys(values))
    # Neither query nor filter is a search too: every passage, so its feed follows all that is added.
    return name.strip(), query.strip(), clean


def create(catalog: Catalog, name: Any, query: Any, filters: Any, by: str | None) -> SavedSearch:
    name, query, filters = validate(name, query, filters)
    with catalog.transaction():
        if catalog.saved_search_exists(name):
            raise ConflictError(f"a saved search named {name!r} exists; delete it or choose another name")
        if catalog.count_saved_searches() >= MAX_SAVED:
            raise ConflictError(f"there are already {MAX_SAVED} saved searches; delete some first")
        row = catalog.saved_search(catalog.add_saved_search(name, query, filters, by))
    assert row is not None  # written in this transaction
    return _row(row)


def list_all(catalog: Catalog) -> list[SavedSearch]:
    return [_row(r) for r in catalog.saved_searches()]


def get(catalog: Catalog, saved_id: int) -> SavedSearch:
    if not 0 < saved_id < 2**63:  # past SQLite's INTEGER: no such row (it raised OverflowError, a 500)
        raise NotFoundError(f"no saved search {saved_id}")
    row = catalog.saved_search(saved_id)
    if row is None:
        raise NotFoundError(f"no saved search {saved_id}")
    return _row(row)


def delete(catalog: Catalog, saved_id: int) -> SavedSearch:
    with catalog.transaction():
        found = get(catalog, saved_id)
        catalog.remove_saved_search(saved_id)
    return found


def recent_count(kb: Any, saved: SavedSearch, days: int = RECENT_DAYS, now: datetime | None = None) -> int:
    """Passages matching the search whose documents were ingested in the last `days` days:
    the search ordered newest ingested first, read until the first older passage."""
    since = ((now or datetime.now(UTC)) - timedelta(days=days)).replace(microsecond=0).isoformat()
    newest = kb.catalog.newest_ingest()
    if newest is None or newest < since:
        return 0  # nothing ingested lately: no search needed
    req = SearchRequest(q=saved.query, filters=saved.filters, sort="added", facets=False,
                        max_per_document=0, highlight=False, correct=False)
    count = 0
    for hit in kb.index.iter_all(req):
        if (hit.added or "") < since:
            break
        count += 1
    return count


def with_counts(kb: Any) -> list[dict[str, Any]]:
    """Every saved search with its recent count, cached per catalog change and day."""
    from kb import queries

    day = datetime.now(UTC).date().isoformat()

    def compute() -> list[dict[str, Any]]:
        return [{**s.to_dict(), "recent": recent_count(kb, s), "recent_days": RECENT_DAYS}
                for s in list_all(kb.catalog)]

    return queries.cached(kb.catalog, ("saved-searches", day, kb.catalog.saved_searches_stamp()), compute)
