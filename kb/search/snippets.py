"""Snippets: the passage text, HTML-escaped, with <mark> around the words that matched.

Only our own <mark> tags are left unescaped: every piece of the source text goes through
``html.escape``. Matching is done on analysed tokens (the field's own analyzer with character
offsets), so "governments" is marked for a query on "government".
"""
from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

SNIPPET_CHARS = 320


# analyzer id -> (analyzer, {word: analysed forms}). Running the analyzer chain over every
# word of every hit was ~80% of a search's time (bench/load.py); words repeat, so each
# word's forms are computed once. Valid because every filter of our analyzers works word by
# word (kb.search.whoosh.schema); the analyzer is held so that its id cannot be reused.
_WORD_FORMS: dict[int, tuple[Any, dict[str, tuple[str, ...]]]] = {}
_WORD_FORMS_MAX = 100_000


def match_spans(text: str, analyzer: Any, terms: set[str]) -> list[tuple[int, int]]:
    if not terms or not text:
        return []
    items = getattr(analyzer, "items", None)
    expr = getattr(items[0], "expression", None) if items else None
    if expr is None or getattr(items[0], "gaps", False):
        spans = [(tok.startchar, tok.endchar)
                 for tok in analyzer(text, chars=True, mode="index", removestops=False) if tok.text in terms]
        return _merge(spans)
    entry = _WORD_FORMS.get(id(analyzer))
    if entry is None or entry[0] is not analyzer:
        entry = _WORD_FORMS[id(analyzer)] = (analyzer, {})
    forms_of = entry[1]
    if len(forms_of) > _WORD_FORMS_MAX:
        forms_of.clear()
    # Which distinct words match (findall runs in C), then where they are.
    words = set(expr.findall(text)) if expr.groups == 0 else {m.group(0) for m in expr.finditer(text)}
    hit = set()
    for word in words:
        forms = forms_of.get(word)
        if forms is None:
            forms = forms_of[word] = tuple(t.text for t in analyzer(word, mode="index", removestops=False))
        if not terms.isdisjoint(forms):
            hit.add(word)
    if not hit:
        return []
    return _merge([m.span() for m in expr.finditer(text) if m.group(0) in hit])


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        else:
            out.append((s, e))
    return out


def _window(text: str, spans: list[tuple[int, int]], size: int) -> tuple[int, int]:
    """The [start, end) of at most `size` characters holding the most matches."""
    if len(text) <= size:
        return 0, len(text)
    best_start, best_count = 0, -1
    j = 0
    for i, (s, _) in enumerate(spans):
        while j < len(spans) and spans[j][1] <= s + size:
            j += 1
        if j - i > best_count:
            best_start, best_count = s, j - i
    # Start a little before the first match, on a word boundary.
    start = max(0, best_start - size // 5)
    if start > 0:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 30 else start
    end = min(len(text), start + size)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + size // 2 else end
    return start, end


def make_snippet(text: str, spans: list[tuple[int, int]], size: int = SNIPPET_CHARS) -> str:
    start, end = _window(text, spans, size) if spans else (0, min(len(text), size))
    if not spans and end < len(text):
        space = text.rfind(" ", 0, end)
        end = space if space > size // 2 else end
    parts = ["…" if start > 0 else ""]
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        parts.append(html.escape(text[pos:s]))
        parts.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    parts.append(html.escape(text[pos:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts)
