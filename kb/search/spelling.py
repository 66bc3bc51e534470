"""Spelling: did-you-mean suggestions and the automatic correction of unknown words.

Both read the unstemmed `spell` field, so "goverment" is compared with "government", not
with the stem "govern". A word counts as unknown when no passage holds it.

* `suggest` (did-you-mean, shown when results are few): every unknown word of three
  letters or more becomes its nearest known word (edit distance <= 2, the most frequent
  first).
* `correct` (applied before searching, unless the request says `correct=False`): stricter,
  because the user did not ask for it. Only words of four letters or more, one edit away
  (a letter missing, extra, wrong or swapped), never a short all-capitals acronym, a
  mixed-case symbol, a CJK word or a word with digits: those are more often right and
  absent than misspelt.

Neither touches a word inside a known entity name (the resolver's countries and
organisations are matched by their tags) or a word the search finds anyway through a
title, a heading or its stem.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from kb.search import query as qmod
from kb.search.postings import segment_key
from kb.search.schema import CJK_CHAR, ENGLISH_STOPS, TEXT_FIELDS, plain_analyzer

Resolver = Callable[[str], list[tuple[str, str]]]


def _unknown(token: str, vocab: _Vocabulary, analyzer: Any) -> str | None:
    """The token's spell-field form when it is a plain word no passage holds, else None."""
    if not qmod._is_candidate(token):
        return None
    forms = [t.text for t in analyzer(token)]
    if len(forms) != 1 or forms[0] in vocab:
        return None
    return forms[0]


def suggest(q: str, reader: Any, resolver: Resolver | None = None) -> str | None:
    """Did-you-mean: the query with each unknown word replaced. None when nothing changes."""
    if "spell" not in reader.indexed_field_names():
        return None
    corrector = reader.corrector("spell")

    def nearest(token: str, form: str, vocab: _Vocabulary) -> str | None:
        # Whoosh's corrector walks the whole word list (up to seconds a word on a large
        # index): long words and stop words are not looked up, and at most three words are.
        if not 2 < len(form) <= MAX_CORRECTED_LETTERS or form in ENGLISH_STOPS:
            return None
        found = corrector.suggest(form, limit=1, maxdist=2)
        return found[0] if found else None

    return _rewrite(q, reader, resolver, nearest, limit=3)


def correct(q: str, reader: Any, resolver: Resolver | None = None) -> str | None:
    """The plain query with its unknown words corrected (see the module doc), or None when
    the query is not plain or no word was corrected."""
    if not q or not qmod.is_plain(q) or "spell" not in reader.indexed_field_names():
        return None

    def one_edit(token: str, form: str, vocab: _Vocabulary) -> str | None:
        if not _correctable(token, form):
            return None
        known = [c for c in _edits1(form) if c in vocab]
        # The most frequent candidate; ties by spelling, so the choice is stable.
        return max(sorted(known), key=lambda c: reader.frequency("spell", c)) if known else None

    return _rewrite(q, reader, resolver, one_edit)


def _found_by_analysis(token: str, reader: Any, schema: Any, fields: list[str]) -> bool:
    """True when the word matches some passage once analysed as the search analyses it:
    "voting" in a title only, "tested" matching "tests" by its stem are not misspelt."""
    for field in fields:
        for t in schema[field].analyzer(token):
            if reader.doc_frequency(field, t.text):
                return True
    return False


def _entity_tokens(tokens: list[str], resolver: Resolver | None) -> set[int]:
    """Indices of tokens inside a run of up to MAX_NGRAM words naming a known entity
    ("Costa Rica" is not corrected word by word into "costs rice")."""
    if resolver is None:
        return set()
    out: set[int] = set()
    for i in range(len(tokens)):
        for j in range(min(len(tokens), i + qmod.MAX_NGRAM), i, -1):
            words = [t.rstrip("?!.,;:") for t in tokens[i:j]]
            if not all(qmod._is_candidate(w) for w in words):
                continue
            try:
                if resolver(" ".join(words)):
                    out.update(range(i, j))
                    break
            except Exception:  # noqa: BLE001 — a broken registry must not break search
                return out
    return out


def _rewrite(q: str, reader: Any, resolver: Resolver | None,
             replace: Callable[[str, str, _Vocabulary], str | None], limit: int = 1000) -> str | None:
    """The query with each unknown word replaced by `replace(token, form, vocabulary)` (when
    it returns a word); None when nothing changed. Words inside a known entity name and words
    the search finds anyway (_found_by_analysis) are never offered to `replace`; at most
    `limit` distinct words are tried."""
    vocab = _vocabulary(reader)
    analyzer = plain_analyzer()
    tokens = qmod._TOKEN.findall(q)
    bare = [t.rstrip("?!.,;:") for t in tokens]  # "cybersecurty?" is a word before a question mark
    unknown = {i: form for i, b in enumerate(bare) if (form := _unknown(b, vocab, analyzer))}
    if not unknown:
        return None  # the common case: no resolver lookups, no analysis
    protected = _entity_tokens(tokens, resolver)
    schema = reader.schema
    searched = [f for f in ("title", "heading", *TEXT_FIELDS) if f in schema]
    out = list(tokens)
    tried: dict[str, str | None] = {}
    for i, form in unknown.items():
        if form not in tried:
            if len(tried) >= limit:
                continue
            skip = i in protected or _found_by_analysis(bare[i], reader, schema, searched)
            tried[form] = None if skip else replace(bare[i], form, vocab)
        if tried[form]:
            out[i] = tried[form]
    return " ".join(out) if out != tokens else None


# Spell-field words of each index segment: segments never change once written, so a set
# built on first use stays right until the segment is merged away.
_SEGMENT_WORDS: OrderedDict[tuple, frozenset[str]] = OrderedDict()
_SEGMENT_WORDS_MAX = 64
_LOCK = threading.Lock()


class _Vocabulary:
    def __init__(self, sets: list[frozenset[str]]) -> None:
        self.sets = sets

    def __contains__(self, word: str) -> bool:
        return any(word in s for s in self.sets)


def _vocabulary(reader: Any) -> _Vocabulary:
    sets = []
    for leaf, _offset in reader.leaf_readers():
        key = segment_key(leaf)
        with _LOCK:
            words = _SEGMENT_WORDS.get(key) if key else None
        if words is None:
            words = frozenset(w.decode("utf-8") if isinstance(w, bytes) else w for w in leaf.lexicon("spell"))
            if key:
                with _LOCK:
                    _SEGMENT_WORDS[key] = words
                    while len(_SEGMENT_WORDS) > _SEGMENT_WORDS_MAX:
                        _SEGMENT_WORDS.popitem(last=False)
        sets.append(words)
    return _Vocabulary(sets)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _edits1(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away (Norvig's
    spelling corrector). Looking each up is ~100x faster than Whoosh's corrector walking
    the whole word list (0.3 s a query on SciFact), and one edit covers most typing slips."""
    letters = _LETTERS + "".join(sorted(set(word) - set(_LETTERS)))
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in letters]
    inserts = [a + c + b for a, b in splits for c in letters]
    return set(deletes + transposes + replaces + inserts) - {word}


# Longer "words" are not misspellings worth guessing at, and their edit sets grow with
# length (about 54 x letters strings): a 1,000-character token would cost ~100 MB.
MAX_CORRECTED_LETTERS = 30


def _correctable(word: str, form: str) -> bool:
    if not 4 <= len(form) <= MAX_CORRECTED_LETTERS or any(ch.isdigit() for ch in form):
        return False
    if word.isupper() and len(word) <= 6:
        return False
    # iTregs, aPKCz, McKinsey: capitals inside a word mark a name or a symbol, not a slip.
    if any(ch.isupper() for ch in word[1:]) and not word.isupper():
        return False
    # CJK runs are stored unsegmented in the spell field: an "edit" would cut a word.
    return not CJK_CHAR.search(word)
