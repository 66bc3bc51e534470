"""Blueprint `ui`: the server-rendered pages.

Pages work without JavaScript; ``static/app.js`` only enhances. Every string reaching a
template is escaped by Jinja's autoescape; the only ``|safe`` is a search hit's snippet,
which the search backend guarantees to be escaped text with ``<mark>`` only.
"""
from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, request
from flask.blueprints import BlueprintSetupState

bp = Blueprint("ui", __name__)

ENTITY_ROUTES = {"country": "countries", "org": "organisations", "person": "people",
                 "topic": "topics", "region": "regions"}
ENTITY_LABELS = {"country": "Countries", "org": "Organisations", "person": "People",
                 "topic": "Topics", "region": "Regions", "type": "File type", "year": "Year",
                 "lang": "Language"}


@lru_cache(maxsize=8192)
def entity_url(type_: str, entity_id: str) -> str:
    return f"/{ENTITY_ROUTES.get(type_, type_)}/{quote(str(entity_id), safe='')}"


def _secret_key(app: Flask) -> str:
    """A signing key for the curator session kept in the KB home, so every worker process
    of the WSGI server shares it and sessions survive a restart."""
    home = Path(app.config["KB_SETTINGS"]["home"])
    path = home / "ui_secret_key"
    try:
        return path.read_text().strip()
    except OSError:
        key = secrets.token_urlsafe(48)
        try:
            home.mkdir(parents=True, exist_ok=True)
            path.write_text(key)
            path.chmod(0o600)
        except OSError:
            pass  # a read-only home: sessions last as long as this process
        return key


def passage_url(doc_id: str, ordinal: int) -> str:
    """Link to one passage: its document's part (beyond the first) and its anchor."""
    from kb.dossier import part_of

    part = part_of(int(ordinal))
    return (f"/documents/{quote(str(doc_id), safe='')}" + (f"?part={part}" if part > 1 else "")
            + f"#p-{int(ordinal)}")


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = state.app
    if not app.secret_key:
        app.secret_key = _secret_key(app)
    app.jinja_env.globals.update(entity_url=entity_url, passage_url=passage_url, ENTITY_LABELS=ENTITY_LABELS)


@bp.app_template_filter("qs")
def _qs_filter(args: Any, **changes: Any) -> str:
    from web.ui.params import query_string

    return query_string(args if args is not None else request.args, **changes)

