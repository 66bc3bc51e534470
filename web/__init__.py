"""Flask app factory. Blueprints `ui` (pages) and `api` (/api/v1) are imported inside it."""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from flask import Flask, g

from kb import settings as settings_mod
from kb.facade import KB


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """config: kb settings overrides (e.g. {"home": "/tmp/x"}) plus Flask keys in upper case."""
    app = Flask(__name__)
    config = dict(config or {})
    flask_keys = {k: v for k, v in config.items() if k.isupper()}
    kb_overrides = {k: v for k, v in config.items() if not k.isupper()}
    app.config.update(flask_keys)
    app.config["KB_SETTINGS"] = settings_mod.load(kb_overrides)

    from web.api import bp as api_bp
    from web.ui import bp as ui_bp

    app.register_blueprint(ui_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")

    from web import errors, security

    errors.register(app)  # problem+json under /api, error.html elsewhere
    security.register(app)  # CSP, nosniff, Referrer-Policy; CORS for API reads

    @app.teardown_appcontext
    def close_kb(exc: BaseException | None) -> None:
        kb = g.pop("kb", None)
        if kb is not None:
            kb.close()

    return app


def get_kb() -> KB:
    """The request's KB facade, opened on first use and closed on teardown. Its search index
    is the process's shared one (see shared_index)."""
    from flask import current_app

    if "kb" not in g:
        g.kb = KB(current_app.config["KB_SETTINGS"], readonly=True, index_source=shared_index)
    return g.kb


_INDEX_LOCK = threading.Lock()


def shared_index():  # -> kb.search.types.PassageIndex
    """One open search index per process, opened on first use. Opening an index (and the
    entity registry its query resolver loads) costs several times a search, so requests
    borrow this one; the backend refreshes its searcher when another process commits."""
    from flask import current_app

    ext = current_app.extensions
    holder = ext.get("kb_index_holder")
    if holder is None:
        with _INDEX_LOCK:
            holder = ext.get("kb_index_holder")
            if holder is None:
                holder = ext["kb_index_holder"] = KB(current_app.config["KB_SETTINGS"], readonly=True)
    return holder.index
