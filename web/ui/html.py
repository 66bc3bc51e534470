"""Passage markup for the document view, built in Python for speed.

A large document has thousands of mentions; one Jinja loop iteration per run of text cost
about a second for 14k mentions. Here every piece of user text still goes through
markupsafe's ``escape`` (the function Jinja's autoescape uses), and the only markup added
is the fixed ``<a class="mention m-TYPE" href=… title=…>`` around a mention.
"""
from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from web.ui.blueprint import entity_url

_TYPES = frozenset(("country", "region", "org", "person", "topic"))


def passage_html(segments: list[tuple[str, dict[str, Any] | None]],
                 tags: dict[tuple[str, str, str], str] | None = None) -> Markup:
    """One passage's runs as markup. `tags` caches the opening tag per entity across the
    passages of a document (a spreadsheet of speakers repeats the same few thousand times)."""
    tags = {} if tags is None else tags
    parts: list[str] = []
    for text, m in segments:
        if m is None:
            parts.append(str(escape(text)))
            continue
        key = (m["type"], m["id"], m["name"])
        tag = tags.get(key)
        if tag is None:
            kind = m["type"] if m["type"] in _TYPES else "other"  # a class name, never user text
            tag = tags[key] = (f'<a class="mention m-{kind}" href="{escape(entity_url(m["type"], m["id"]))}" '
                               f'title="{escape(m["name"])}">')
        parts.append(f"{tag}{escape(text)}</a>")  # str formatting: Markup + str would re-escape the tag
    return Markup("".join(parts))
