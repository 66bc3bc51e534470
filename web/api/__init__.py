"""Blueprint `api`: JSON API v1."""
from __future__ import annotations

from flask import Blueprint, jsonify

from web import get_kb

bp = Blueprint("api", __name__)


@bp.get("/health")
def health():
    stats = get_kb().stats()
    return jsonify({"status": "ok", "documents": stats["documents"], "passages": stats["passages"]})
