"""Spelling: did-you-mean suggestions and the automatic correction of unknown words.

Both read the backend's vocabulary of unstemmed words (kb.search.types.Vocabulary), so "goverment" is compared with "government", not
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
organisations are matched by their tags), a word the search finds anyway through a
title, a heading or its stem, an English inflection of an indexed word ("talked" when
"talk" or "talks" is indexed) or, with a replacement of another script, a word of a
script other than Latin ("кибербезопасность" never becomes a Latin word). Whether a
correction is applied and a suggestion shown also depends on what they find: the search
service's policy (kb.search.service).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from kb.search import language
from kb.search.types import Vocabulary

Resolver = Callable[[str], list[tuple[str, str]]]
# CJK runs are indexed as character bigrams, not words.
CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# Longer "words" are not misspellings worth guessing at, and their edit sets grow with
# length (about 54 x letters strings): a 1,000-character token would cost ~100 MB.
MAX_CORRECTED_LETTERS = 30


def _unknown(token: str, vocab: Vocabulary) -> str | None:
    """The token's spelling form when it is a plain word no passage holds, else None."""
    if not language.is_candidate(token):
        return None
    forms = vocab.spell_forms(token)
    if len(forms) != 1 or forms[0] in vocab or inflection_known(forms[0], vocab):
        return None
    return forms[0]


# English inflectional endings and what each may have been added to: (ending, replacement).
_INFLECTIONS = (("ies", "y"), ("ied", "y"), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
                ("es", ""), ("s", ""), ("er", ""), ("er", "e"), ("est", ""), ("est", "e"), ("ly", ""))
_SUFFIXES = ("", "s", "es", "ed", "d", "ing")


def inflection_known(form: str, vocab: Vocabulary) -> bool:
    """An English inflection of an indexed word: "talked" when the index holds "talk",
    "talks" or "talking"; "stopped" by "stop"; "studies" by "study". Only Latin words of
    five letters or more, so short slips ("teh") are not taken for inflections."""
    if len(form) < 5 or not form.isascii() or not form.isalpha():
        return False
    bases: set[str] = set()
    for ending, repl in _INFLECTIONS:
        if form.endswith(ending):
            base = form[: -len(ending)] + repl
            if len(base) >= 3:
                bases.add(base)
                if len(base) >= 4 and base[-1] == base[-2] and not repl:
                    bases.add(base[:-1])  # stopped -> stop, planning -> plan
    for base in bases:
        stem = base.removesuffix("e")
        for suffix in _SUFFIXES:
            word = (stem if suffix in ("ed", "ing") else base) + suffix
            if word != form and word in vocab:
                return True
    return False


def scripts(text: str) -> set[str]:
    """The scripts of a text's letters ('LATIN', 'CYRILLIC', 'ARABIC', 'CJK', …)."""
    return {unicodedata.name(ch, "?").split(" ")[0] for ch in text if ch.isalpha()}


def same_script(word: str, replacement: str) -> bool:
    """A replacement may only use the scripts of the word it replaces."""
    return scripts(replacement) <= scripts(word)


def suggest(q: str, vocab: Vocabulary, resolver: Resolver | None = None) -> str | None:
    """Did-you-mean: the query with each unknown word replaced. None when nothing changes."""
    if not vocab.available:
        return None

    def nearest(token: str, form: str) -> str | None:
        # The nearest-word search walks the whole word list (up to seconds a word on a large
        # index): long words and stop words are not looked up, and at most three words are.
        if not 2 < len(form) <= MAX_CORRECTED_LETTERS or form in language.ENGLISH_STOPS:
            return None
        return vocab.nearest(form, 2)

    return _rewrite(q, vocab, resolver, nearest, limit=3)


def correct(q: str, vocab: Vocabulary, resolver: Resolver | None = None) -> str | None:
    """The plain query with its unknown words corrected (see the module doc), or None when
    the query is not plain or no word was corrected."""
    if not q or not language.is_plain(q) or not vocab.available:
        return None

    def one_edit(token: str, form: str) -> str | None:
        if not _correctable(token, form):
            return None
        known = [c for c in _edits1(form) if c in vocab]
        # The most frequent candidate; ties by spelling, so the choice is stable.
        return max(sorted(known), key=vocab.frequency) if known else None

    return _rewrite(q, vocab, resolver, one_edit)


def _entity_tokens(tokens: list[str], resolver: Resolver | None) -> set[int]:
    """Indices of tokens inside a run of up to MAX_NGRAM words naming a known entity
    ("Costa Rica" is not corrected word by word into "costs rice")."""
    if resolver is None:
        return set()
    out: set[int] = set()
    for i in range(len(tokens)):
        for j in range(min(len(tokens), i + language.MAX_NGRAM), i, -1):
            words = [t.rstrip("?!.,;:") for t in tokens[i:j]]
            if not all(language.is_candidate(w) for w in words):
                continue
            try:
                if resolver(" ".join(words)):
                    out.update(range(i, j))
                    break
            except Exception:  # noqa: BLE001 — a broken registry must not break search
                return out
    return out


def _rewrite(q: str, vocab: Vocabulary, resolver: Resolver | None,
             replace: Callable[[str, str], str | None], limit: int = 1000) -> str | None:
    """The query with each unknown word replaced by `replace(token, form)` (when it returns
    a word); None when nothing changed. Words inside a known entity name and words the
    search finds anyway (through a title, a heading or a stem) are never offered to
    `replace`; at most `limit` distinct words are tried."""
    tokens = language.TOKEN.findall(q)
    bare = [t.rstrip("?!.,;:") for t in tokens]  # "cybersecurty?" is a word before a question mark
    unknown = {i: form for i, b in enumerate(bare) if (form := _unknown(b, vocab))}
    if not unknown:
        return None  # the common case: no resolver lookups, no analysis
    protected = _entity_tokens(tokens, resolver)
    out = list(tokens)
    tried: dict[str, str | None] = {}
    for i, form in unknown.items():
        if form not in tried:
            if len(tried) >= limit:
                continue
            skip = i in protected or vocab.found_by_analysis(bare[i])
            tried[form] = None if skip else replace(bare[i], form)
        if tried[form] and same_script(bare[i], tried[form]):
            out[i] = tried[form]
    return " ".join(out) if out != tokens else None


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _edits1(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away (Norvig's
    spelling corrector). Looking each up is ~100x faster than walking the whole word list
    (0.3 s a query on SciFact), and one edit covers most typing slips."""
    letters = _LETTERS + "".join(sorted(set(word) - set(_LETTERS)))
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in letters]
    inserts = [a + c + b for a, b in splits for c in letters]
    return set(deletes + transposes + replaces + inserts) - {word}


def _correctable(word: str, form: str) -> bool:
    if not 4 <= len(form) <= MAX_CORRECTED_LETTERS or any(ch.isdigit() for ch in form):
        return False
    if word.isupper() and len(word) <= 6:
        return False
    # iTregs, aPKCz, McKinsey: capitals inside a word mark a name or a symbol, not a slip.
    if any(ch.isupper() for ch in word[1:]) and not word.isupper():
        return False
    # CJK runs are stored unsegmented in the spelling index: an "edit" would cut a word.
    return not CJK_CHAR.search(word)
