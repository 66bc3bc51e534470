"""Blueprint `api`: JSON API v1 at /api/v1.

Each module registers its views on ``bp``; every view's docstring holds its OpenAPI
operation (YAML after ``---``), from which ``web.api.spec`` builds /api/v1/openapi.json.
Reads are open; writes need ``Authorization: Bearer <token>`` (kb.auth).
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__)
