"""Curator sign-in (API token kept in the signed session cookie) and the alias / merge /
reject forms of entity pages. Each form carries a per-session CSRF token."""
from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import redirect, render_template, request, session

from kb import auth
from kb.errors import AuthError, InvalidInputError
from web.db import get_kb
from web.ui.blueprint import ENTITY_ROUTES, bp, entity_url

ACTIONS = ("alias", "merge", "reject")
_TYPES = {v: k for k, v in ENTITY_ROUTES.items()}


def _csrf() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def curator_context() -> dict[str, Any]:
    """Template values: the signed-in curator's name (or None) and the form token."""
    return {"curator": session.get("curator"), "csrf": _csrf()}


def _check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        raise AuthError("the form expired or did not come from this site; reload the page and retry")


def _safe_next(target: str | None) -> str:
    # only local paths: an open redirect would let a link sign someone in and send them away
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _require_curator() -> None:
    # the token is re-checked on every write, so revoking it ends the session too
    auth.verify_token(get_kb().catalog, session.get("token"))


@bp.route("/curate/signin", methods=["GET", "POST"])
def signin() -> Any:
    if request.method == "GET":
        return render_template("signin.html", next=_safe_next(request.args.get("next")), **curator_context())
    _check_csrf()
    token = (request.form.get("token") or "").strip()
    record = auth.verify_token(get_kb().catalog, token)
    session.clear()
    session["token"] = token
    session["curator"] = record["name"]
    _csrf()
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/curate/signout")
def signout() -> Any:
    _check_csrf()
    session.clear()
    return redirect(_safe_next(request.form.get("next")), code=303)


def apply_curation(kb: Any, action: str, type_: str, entity_id: str, value: str) -> int:
    """Record one curation action, as the API does: the registry applies the log when it is
    built and the tagger at the next re-tag (kb reindex). Returns the log sequence number."""
    with kb.catalog.transaction():
        return kb.catalog.add_curation(action, value, type_, entity_id)


@bp.post("/<section>/<entity_id>/curate")
def curate_entity(section: str, entity_id: str) -> Any:
    type_ = _TYPES.get(section)
    if type_ is None:
        raise InvalidInputError(f"no entity section {section!r}")
    _check_csrf()
    _require_curator()
    action = request.form.get("action", "")
    if action not in ACTIONS:
        raise InvalidInputError(f"action must be one of {', '.join(ACTIONS)}")
    value = (request.form.get("value") or "").strip()
    if action == "reject":
        value = value or (request.form.get("text") or "").strip() or entity_id
    if not value or len(value) > 300:
        raise InvalidInputError("give a value of 1 to 300 characters")
    if action == "merge" and value == entity_id:
        raise InvalidInputError("an entity cannot be merged into itself")
    kb = get_kb()
    apply_curation(kb, action, type_, entity_id, value)
    return redirect(entity_url(type_, entity_id) + "?curated=" + action, code=303)
