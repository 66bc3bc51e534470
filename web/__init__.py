"""Flask app factory. Blueprints `ui` (pages) and `api` (/api/v1) are imported inside it;
they reach the KB through web.db, never through this module (no import circle)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from kb import settings as settings_mod
from web import db


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

    db.init_app(app)
    app.register_blueprint(ui_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")

    from web import errors, security

    errors.register(app)  # problem+json under /api, error.html elsewhere
    security.register(app)  # CSP, nosniff, Referrer-Policy; CORS for API reads

    return app
