"""The Whoosh backend's spelling vocabulary (kb.search.types.Vocabulary): the unstemmed
words of the `spell` field, per index segment, for the service's spelling policy
(kb.search.spelling)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from kb.search.whoosh.postings import segment_key
from kb.search.whoosh.schema import TEXT_FIELDS, plain_analyzer

# Spell-field words of each index segment: segments never change once written, so a set
# built on first use stays right until the segment is merged away.
_SEGMENT_WORDS: OrderedDict[tuple, frozenset[str]] = OrderedDict()
_SEGMENT_WORDS_MAX = 64
_LOCK = threading.Lock()
_ANALYZER = plain_analyzer()


class WhooshVocabulary:
    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.available = "spell" in reader.indexed_field_names()
        self.sets = _segment_sets(reader) if self.available else []
        self._corrector: Any = None

    def __contains__(self, form: str) -> bool:
        return any(form in s for s in self.sets)

    def spell_forms(self, token: str) -> list[str]:
        return [t.text for t in _ANALYZER(token)]

    def frequency(self, form: str) -> int:
        return int(self.reader.frequency("spell", form))

    def nearest(self, form: str, maxdist: int) -> str | None:
        if self._corrector is None:
            self._corrector = self.reader.corrector("spell")
        found = self._corrector.suggest(form, limit=1, maxdist=maxdist)
        return found[0] if found else None

    def found_by_analysis(self, word: str) -> bool:
        """True when the word matches some passage once analysed as the search analyses it:
        "voting" in a title only, "tested" matching "tests" by its stem are not misspelt."""
        schema = self.reader.schema
        for field in ("title", "heading", *TEXT_FIELDS):
            if field not in schema:
                continue
            for t in schema[field].analyzer(word):
                if self.reader.doc_frequency(field, t.text):
                    return True
        return False


def _segment_sets(reader: Any) -> list[frozenset[str]]:
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
    return sets
