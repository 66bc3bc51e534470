"""A memo in front of spaCy's tokenizer, so that tagging does not pay for the same word twice.

spaCy's tokenizer cuts text at whitespace and tokenises each piece on its own (prefixes,
suffixes, infixes, special cases). It has a cache of pieces, but stops filling it for the
rest of a document once a special case ("Mr.", "don't") has been seen (the has_special check
in its _save_cached) and at 10,000 entries, so on real documents most words go through its
regular expressions again: that was about 60 % of the tagger's time on the UNGD speeches.
The rules of the wrapped tokenizer must not change after wrapping (the memo would be stale).

CachedTokenizer keeps its own memo: unit = a non-space run plus the whitespace after it
("Korea, " or "peace.\\n\\n"), tokenised once by the real tokenizer, alone, and replayed as
words and spaces into ``Doc(vocab, words, spaces)``. The tokens, whitespace, offsets and
norms are those the tokenizer gives for the whole text (tests/indexer/test_tokcache.py checks
them on real texts); the one thing a piece alone cannot see — a multi-token special case
that spans the space between two pieces — is detected, and such neighbours are tokenised
together by the real tokenizer.
"""
from __future__ import annotations

import re
from itertools import accumulate, chain, compress, pairwise
from operator import itemgetter

from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc

# A non-space run with the whitespace after it, or whitespace at the very start. Python's
# \s is str.isspace(), the test spaCy's tokenizer splits on.
_UNIT = re.compile(r"\S+\s*|\s+")
MAX_UNITS = 50_000  # memo entries kept (~0.3 kB each: ~15 MB at most); cleared when full
MAX_UNIT_CHARS = 60  # longer pieces (URLs, unspaced scripts) are rarely repeated: not kept

_WORDS, _SPACES, _FLAGS = itemgetter(0), itemgetter(1), itemgetter(2)
_NORM, _TAIL, _HEAD = 1, 2, 4  # flags: norms to set; last / first token may join a neighbour


class CachedTokenizer:
    """Callable like the spaCy Tokenizer it wraps (``nlp.tokenizer = CachedTokenizer(...)``)."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.vocab = tokenizer.vocab
        self._memo = _Memo(self)
        self._pairs = _joinable_pairs(tokenizer)
        self._firsts = {a for a, _b in self._pairs}
        self._seconds = {b for _a, b in self._pairs}

    def __call__(self, text: str) -> Doc:
        if self.vocab.in_memory_zone:  # lexemes made now are dropped later: keep no memo of them
            return self.tokenizer(text)
        units = _UNIT.findall(text)
        entries = list(map(self._memo.__getitem__, units))
        if len(self._memo) > MAX_UNITS:
            self._memo.clear()
        flags = list(map(_FLAGS, entries))
        hot = list(compress(range(len(flags)), flags))  # the few units with norms or joinable ends
        if hot:
            links = [k for k in hot if flags[k] & _TAIL and k + 1 < len(entries) and flags[k + 1] & _HEAD
                     and (entries[k][0][-1], entries[k + 1][0][0]) in self._pairs]
            if links:
                entries = self._joined(units, entries, links)
                hot = [k for k, e in enumerate(entries) if e[2] & _NORM]
        doc = Doc(self.vocab, words=list(chain.from_iterable(map(_WORDS, entries))),
                  spaces=list(chain.from_iterable(map(_SPACES, entries))))
        if any(entries[k][2] & _NORM for k in hot):
            starts = list(accumulate(map(len, map(_WORDS, entries)), initial=0))
            for k in hot:
                for i, norm in entries[k][3]:
                    doc[starts[k] + i].norm_ = norm  # "n't" -> "not", as the tokenizer sets it
        return doc

    def _joined(self, units: list[str], entries: list[tuple], links: list[int]) -> list[tuple]:
        """Entries with each run of units whose boundary tokens a special case could join
        (unit k with k + 1 for k in links) replaced by the run tokenised as one piece by the
        real tokenizer (special cases included)."""
        out: list[tuple] = []
        done = 0
        k = 0
        while k < len(links):
            first = j = links[k]
            while k + 1 < len(links) and links[k + 1] == j + 1:
                k += 1
                j = links[k]
            out += entries[done:first]
            out.append(self._memo["".join(units[first:j + 2])])
            done = j + 2
            k += 1
        return out + entries[done:]

    def learn(self, piece: str) -> tuple[tuple[int, ...], tuple[bool, ...], int, tuple[tuple[int, str], ...]]:
        """(word ids, spaces, flags, norms) of a unit, tokenised alone by the real tokenizer: it
        cuts the non-space run as it does in context, gives the run's last token its trailing
        space and makes any further whitespace one whitespace token, as in context."""
        toks = self.tokenizer(piece)
        share = self._memo.shared.setdefault  # one object per distinct id or tuple: less memory
        ids = tuple(share(t.orth, t.orth) for t in toks)  # ids: Doc() takes them without rehashing
        spaces = tuple(bool(t.whitespace_) for t in toks)
        words, spaces = share(ids, ids), share(spaces, spaces)
        norms = tuple((t.i, t.norm_) for t in toks if t.norm != t.lex.norm)
        flags = (_NORM if norms else 0) | (_TAIL if words and words[-1] in self._firsts else 0) \
            | (_HEAD if words and words[0] in self._seconds else 0)
        return words, spaces, flags, norms


class _Memo(dict):
    """unit -> learn(unit), filled on first sight (a dict's __missing__ keeps hits in C)."""

    def __init__(self, owner: CachedTokenizer) -> None:
        super().__init__()
        self.owner = owner
        self.shared: dict = {}

    def clear(self) -> None:
        super().clear()
        self.shared.clear()

    def __missing__(self, unit: str):
        value = self.owner.learn(unit)
        if len(unit) <= MAX_UNIT_CHARS:
            self[unit] = value
        return value


def _joinable_pairs(tokenizer: Tokenizer) -> set[tuple[int, int]]:
    """Adjacent token pairs of the patterns spaCy's special-case matcher looks for after
    tokenising (each special case as prefixes/suffixes/infixes alone would cut it). Two units
    can be rejoined by a special case only where the last token of one and the first of the
    next form such a pair."""
    bare = Tokenizer(tokenizer.vocab, rules={}, prefix_search=tokenizer.prefix_search,
                     suffix_search=tokenizer.suffix_search, infix_finditer=tokenizer.infix_finditer,
                     token_match=tokenizer.token_match, url_match=tokenizer.url_match)
    pairs: set[tuple[int, int]] = set()
    for key in tokenizer.rules or {}:
        toks = [t.orth for t in bare(key)]
        pairs.update(pairwise(toks))
    return pairs


def cached(tokenizer):
    """``tokenizer`` wrapped in a CachedTokenizer when it is spaCy's rule tokenizer; other
    tokenizers (Chinese, Japanese segmenters) are returned as they are."""
    return CachedTokenizer(tokenizer) if type(tokenizer) is Tokenizer else tokenizer
