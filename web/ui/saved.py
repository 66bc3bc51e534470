"""Saving and deleting searches from the pages (signed-in curators; kb.saved)."""
from __future__ import annotations

from typing import Any

from flask import redirect, request, session

from kb import saved
from kb.search.types import FACET_FIELDS
from web.db import writer_kb
from web.ui.blueprint import bp
from web.ui.curation import _check_csrf, _require_curator


@bp.post("/saved-searches")
def save_search() -> Any:
    _check_csrf()
    _require_curator()
    filters = {f: request.form.getlist(f) for f in FACET_FIELDS if request.form.getlist(f)}
    with writer_kb() as writer:
        made = saved.create(writer.catalog, request.form.get("name"), request.form.get("q"), filters,
                            session.get("curator"))
    return redirect(f"/?saved={made.id}#saved", code=303)


@bp.post("/saved-searches/<int:saved_id>/delete")
def delete_search(saved_id: int) -> Any:
    _check_csrf()
    _require_curator()
    with writer_kb() as writer:
        saved.delete(writer.catalog, saved_id)
    return redirect("/#saved", code=303)
