"""Snippets: the passage text, HTML-escaped, with <mark> around the words that matched.

Only our own <mark> tags are left unescaped: every piece of the source text goes through
``html.escape``. Matching is done on analysed tokens (the field's own analyzer with character
offsets), so "governments" is marked for a query on "government".
"""
from __future__ import annotations

import functools
import html
import re
import threading
from collections.abc import Iterable
from typing import Any

SNIPPET_CHARS = 320


# The tokenizer pattern of kb's analyzers (kb.search.whoosh.schema). For it, "this word
# occurs here as a whole token" is a regular expression of its own (below), so the
# occurrences of the matching words are found by one C scan instead of a Python loop over
# every token of the passage.
TOKEN_PATTERN = r"\w+(?:[.'’]\w+)*"
# A token starts where no word character, and no word character plus joiner, precedes, and
# ends where neither a word character nor a joiner plus word character follows: exactly the
# edges of the tokenizer's greedy, left-to-right matches.
_TOKEN_START, _TOKEN_END = r"(?<!\w)(?<!\w[.'’])", r"(?!\w)(?![.'’]\w)"


class _WordIndex:
    """Per analyzer: every word seen in a snippet so far, and for each analysed form the
    words that produce it. Valid because every filter of our analyzers works word by word
    (kb.search.whoosh.schema); the analyzer is held so that its id cannot be reused."""

    MAX_WORDS = 100_000

    def __init__(self, analyzer: Any) -> None:
        self.analyzer = analyzer
        self.known: set[str] = set()
        self.words_of: dict[str, set[str]] = {}  # analysed form -> surface words
        self.lock = threading.Lock()

    def learn(self, words: frozenset[str]) -> None:
        if words <= self.known:  # a set comparison in C: words repeat across passages
            return
        # Rare once warm; the lock keeps server threads from seeing a half-learnt word.
        with self.lock:
            new = words - self.known
            if len(self.known) + len(new) > self.MAX_WORDS:
                self.known, self.words_of = set(), {}
                new = words
            words_of = self.words_of
            for word in new:
                for tok in self.analyzer(word, mode="index", removestops=False):
                    words_of.setdefault(tok.text, set()).add(word)
            # Published after its forms: a word in `known` is always found by `matching`.
            self.known = self.known | new

    def matching(self, terms: set[str]) -> set[str]:
        """The known words any of whose forms is one of `terms`."""
        words_of = self.words_of
        out: set[str] = set()
        for t in terms:
            out |= words_of.get(t, _NONE)
        return out


_NONE: frozenset[str] = frozenset()
_INDEXES: dict[int, _WordIndex] = {}
_INDEXES_LOCK = threading.Lock()


@functools.lru_cache(maxsize=512)
def _occurrences(words: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))
    return re.compile(f"{_TOKEN_START}(?:{alternatives}){_TOKEN_END}")


def _token_expression(analyzer: Any) -> re.Pattern[str] | None:
    """The analyzer's tokenizer pattern, when its tokens are that pattern's matches."""
    items = getattr(analyzer, "items", None)
    expr = getattr(items[0], "expression", None) if items else None
    return None if expr is None or getattr(items[0], "gaps", False) else expr


def passage_words(text: str, analyzer: Any) -> frozenset[str] | None:
    """The distinct words (tokenizer matches) of `text`, or None for an analyzer without a
    pattern tokenizer. A passage's words depend on its text alone: callers may keep them."""
    expr = _token_expression(analyzer)
    if expr is None:
        return None
    return frozenset(expr.findall(text)) if expr.groups == 0 else frozenset(m.group(0) for m in expr.finditer(text))


def match_spans(text: str, analyzer: Any, terms: set[str],
                words: frozenset[str] | None = None) -> list[tuple[int, int]]:
    """The [start, end) character spans of the tokens of `text` that `analyzer` turns into
    one of `terms`, merged where they touch. `words`: the text's passage_words, if known."""
    if not terms or not text:
        return []
    expr = _token_expression(analyzer)
    if expr is None:
        spans = [(tok.startchar, tok.endchar)
                 for tok in analyzer(text, chars=True, mode="index", removestops=False) if tok.text in terms]
        return _merge(spans)
    index = _INDEXES.get(id(analyzer))
    if index is None or index.analyzer is not analyzer:
        with _INDEXES_LOCK:
            index = _INDEXES[id(analyzer)] = _WordIndex(analyzer)
    # Which distinct words the passage holds (findall runs in C), which of them match, then where.
    if words is None:
        words = passage_words(text, analyzer) or frozenset()
    index.learn(words)
    hit = words & index.matching(terms)
    if not hit:
        return []
    if expr.pattern == TOKEN_PATTERN and not expr.flags & re.IGNORECASE:
        return _merge(m.span() for m in _occurrences(frozenset(hit)).finditer(text))
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
