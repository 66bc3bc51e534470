"""Blueprint `ui`: the server-rendered pages."""
from __future__ import annotations

from flask import Blueprint, render_template_string

from web import get_kb

bp = Blueprint("ui", __name__)


@bp.get("/")
def home() -> str:
    stats = get_kb().stats()
    return render_template_string(
        "<!doctype html><title>kb</title><h1>kb</h1><p>{{ s.documents }} documents, "
        "{{ s.passages }} passages</p>", s=stats)
