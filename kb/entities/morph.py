"""Light normalisation of Russian and Arabic words, so a name written in its dictionary form
("Всемирный банк", "البنك الدولي") also matches its inflected or prefixed forms in running
text ("Всемирного банка", "والبنك الدولي").

Not a stemmer for retrieval (the index has Snowball stemmers for that): it only has to map a
name and its forms in a sentence to the same key, and both sides go through it. Russian: the
case and number endings of nouns and adjectives are cut, keeping at least three letters.
Arabic: the conjunctions و/ف and the prepositions ب/ك/ل before the article are dropped, and
the letters writers vary (hamza forms of alef, alef maqsura, ta marbuta, diacritics, tatweel)
are folded.
"""
from __future__ import annotations

import re

# Longest first: "ого" must be tried before "о".
_RU_ENDINGS = sorted((
    "ами", "ями", "иями", "иям", "ием", "ии", "ого", "его", "ому", "ему", "ыми", "ими", "иях", "ией", "ию", "ия", "ие", "ий",
    "ой", "ей", "ом", "ем", "ах", "ях", "ам", "ям", "ов", "ев", "ую", "юю", "ая", "яя", "ое", "ее",
    "ые", "ый", "ых", "их", "ым", "им", "ою", "ею", "ью", "а", "я", "о", "е", "у", "ю", "ы", "и", "ь", "й",
), key=len, reverse=True)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_AR_MARKS = re.compile(r"[\u0640\u064b-\u065f\u0670]")  # tatweel, harakat, superscript alef
_AR_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})


def ru_key(word: str) -> str:
    """'Всемирного' -> 'всемирн', 'Казахстане' -> 'казахстан'; other scripts: lower case."""
    w = word.lower().replace("ё", "е")
    if not _CYRILLIC.search(w):
        return w
    for end in _RU_ENDINGS:
        if w.endswith(end) and len(w) - len(end) >= 3:
            return w[: -len(end)]
    return w


def ar_key(word: str) -> str:
    """'والبنك' -> 'البنك', 'للأمم' -> 'الامم'; other scripts: lower case."""
    w = word.lower()
    if not _ARABIC.search(w):
        return w
    w = _AR_MARKS.sub("", w).translate(_AR_FOLD)
    if len(w) > 3 and w[0] in "وف":
        w = w[1:]
    if len(w) > 4 and w[:3] in ("بال", "كال", "فال"):
        w = "ال" + w[3:]
    elif len(w) > 3 and w.startswith("لل"):
        w = "ال" + w[2:]
    return w


KEYS = {"ru": ru_key, "ar": ar_key}
