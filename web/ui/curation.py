"""Curator sign-in (API token kept in the signed session cookie) and the alias / merge /
reject forms of entity pages. Each form carries a per-session CSRF token."""
from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import redirect, render_template, request, session

from kb import auth
from kb.errors import AuthError, InvalidInputError
from web.db import get_kb, writer_kb
from web.ui.blueprint import ENTITY_ROUTES, bp, entity_url

ACTIONS = ("alias", "merge", "reject")
_TYPES = {v: k for k, v in ENTITY_ROUTES.items()}


def _csrf() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def curator_context() -> dict[str, Any]:
    """Template values: the signed-in curator's name (or None), the form token and what the
    last curation did (shown once)."""
    return {"curator": session.get("curator"), "csrf": _csrf(), "curation_status": session.pop("curation_status", None)}


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
    from indexer.library import curate  # web -> indexer: the write path

    with writer_kb() as writer:
        result = curate(writer, action, type_, entity_id, value)
    # shown once on the next page (the session is signed: no text from a crafted link)
    session["curation_status"] = f"{action}: {result.message}"
    if action == "reject" and result.id is not None:
        return redirect(f"/entities?type={type_}", code=303)  # the entity has no page any more
    target = result.value if action == "merge" else entity_id
    return redirect(entity_url(type_, target) + "?curated=" + action, code=303)
