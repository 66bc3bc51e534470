"""Per-request access to the KB (as flaskr's db.py): `get_kb()` opens the request's facade
on first use, `init_app` closes it when the request ends. Every web request shares the
process's one search service (`shared_index`)."""
from __future__ import annotations

import threading

from flask import Flask, current_app, g

from kb.facade import KB
from kb.search.service import SearchService

_INDEX_LOCK = threading.Lock()


def get_kb() -> KB:
    """The request's KB facade, opened on first use and closed on teardown. Its search
    service is the process's shared one (see shared_index)."""
    if "kb" not in g:
        g.kb = KB(current_app.config["KB_SETTINGS"], readonly=True, index_source=shared_index)
    return g.kb


def writer_kb() -> KB:
    """A facade of its own for a write: the request's (get_kb) is read-only. The caller
    closes it (use it in a `with`)."""
    return KB(get_kb().settings)


def shared_index() -> SearchService:
    """One open search service per process, opened on first use. Opening an index (and the
    entity registry its query resolver loads) costs several times a search, so requests
    borrow this one; the backend refreshes its searcher when another process commits."""
    ext = current_app.extensions
    holder = ext.get("kb_index_holder")
    if holder is None:
        with _INDEX_LOCK:
            holder = ext.get("kb_index_holder")
            if holder is None:
                holder = ext["kb_index_holder"] = KB(current_app.config["KB_SETTINGS"], readonly=True)
    return holder.index


def close_kb(exc: BaseException | None = None) -> None:
    kb = g.pop("kb", None)
    if kb is not None:
        kb.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_kb)
