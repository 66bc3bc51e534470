"""Stable slugs for entity ids (people: slug of the full name)."""
from __future__ import annotations

import re

from kb.entities.countries import fold

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    return _NON_WORD.sub("-", fold(text).lower()).strip("-")


def person_id(full_name: str) -> str:
    """'Vincenzo Aquaro' -> 'vincenzo-aquaro'; parenthesised nicknames are dropped."""
    return slugify(re.sub(r"\([^)]*\)", " ", full_name))
