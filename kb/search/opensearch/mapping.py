"""The passage index's settings and mapping, and a PassageRecord as an OpenSearch document.

Text goes into one field per language, each with the analyser OpenSearch ships for it
(english, french, spanish, russian, arabic, cjk; the first three with accent folding added,
see LANG_FIELDS); any other language is analysed as English,
as in the Whoosh backend. Keeping languages apart keeps BM25's length statistics honest. The
similarity is BM25 with kb's k1/b (kb.search.scoring) and Lucene's idf, which is
OpenSearch's own; title and heading weigh TITLE_WEIGHT times the text (see SEARCH_FIELDS).

Bump MAPPING_VERSION whenever a field or analyser changes: the index then reports
needs_rebuild() and `kb reindex` builds a new versioned index and switches the alias.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

from kb.search.querytree import ENTITY_FIELDS
from kb.search.types import PassageRecord

# The spelling form of a word, as the Whoosh backend's spelling index keeps it: word
# characters (with inner . ' ’), lowercased, accents folded.
_SPELL_TOKEN = re.compile(r"\w+(?:[.'’]\w+)*")


def spell_forms(text: str) -> list[str]:
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower())
                     if not unicodedata.combining(c))
    return _SPELL_TOKEN.findall(folded)

# The most salience points a passage can give an entity (kb.salience: mentions up to 5, heading 3,
# title 2, subject country 4); more are counted as this many.
MAX_POINTS = 14
MAPPING_VERSION = 6  # 3: collection (facet), added (sort=added). 4: salience. 5: no `body`
# (the text is kept once, in its language's field: every hit read and sent it twice).
# 6: offsets in the text fields' postings (highlighting)
# Chosen on SciFact's training claims for the Whoosh backend (kb.search.scoring); kept equal
# here so both backends rank alike. Not imported: kb.search.scoring imports whoosh.
K1 = 0.9
B = 0.6

# Language field -> analyser. English, French and Spanish are OpenSearch's own analysers
# rebuilt from their own parts with accent folding added (kb folds accents on every backend:
# "communique" finds "communiqué"); Russian, Arabic and CJK are the shipped analysers as they are.
LANG_FIELDS = {"en": "kb_english", "fr": "kb_french", "es": "kb_spanish", "ru": "russian",
               "ar": "arabic", "cjk": "cjk"}
ANALYSERS = {
    "kb_english": {"type": "custom", "tokenizer": "standard",
                   "filter": ["kb_possessive_en", "lowercase", "asciifolding", "kb_stop_en",
                              "porter_stem"]},
    "kb_french": {"type": "custom", "tokenizer": "standard",
                  "filter": ["kb_elision_fr", "lowercase", "kb_stop_fr", "asciifolding",
                             "kb_stem_fr"]},
    "kb_spanish": {"type": "custom", "tokenizer": "standard",
                   "filter": ["lowercase", "kb_stop_es", "asciifolding", "kb_stem_es"]},
    "kb_plain": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
}
FILTERS = {
    "kb_possessive_en": {"type": "stemmer", "language": "possessive_english"},
    "kb_stop_en": {"type": "stop", "stopwords": "_english_"},
    "kb_elision_fr": {"type": "elision", "articles_case": True,
                      "articles": ["l", "m", "t", "qu", "n", "s", "j", "d", "c", "jusqu",
                                   "quoiqu", "lorsqu", "puisqu"]},
    "kb_stop_fr": {"type": "stop", "stopwords": "_french_"},
    "kb_stem_fr": {"type": "stemmer", "language": "light_french"},
    "kb_stop_es": {"type": "stop", "stopwords": "_spanish_"},
    "kb_stem_es": {"type": "stemmer", "language": "light_spanish"},
}
CJK_LANGS = ("zh", "ja", "ko")
TEXT_FIELDS = tuple(f"text_{code}" for code in LANG_FIELDS)
# The fields words are searched in: per language, the title and the heading TITLE_WEIGHT times
# and the text once. Repeating a field's words multiplies their frequency and length by its
# weight, so OpenSearch's BM25 on this field scores a word as BM25F does with those field
# weights (one saturation, one idf across fields), which OpenSearch has no query for.
SEARCH_FIELDS = tuple(f"all_{code}" for code in LANG_FIELDS)
TITLE_WEIGHT = 2
KEYWORD_FIELDS = ("id", "doc_id", "path", "source_id", "type", "lang", "event", "date", "added",
                  "collection", *ENTITY_FIELDS)
# Facet name (kb.search.types.FACET_FIELDS) -> field to aggregate on.
FACET_FIELD = {"year": "year", **{name: name for name in (*ENTITY_FIELDS, "type", "lang", "collection")}}


def text_field_for(lang: str | None) -> str:
    base = (lang or "").lower().split("-")[0].split("_")[0]
    if base in CJK_LANGS:
        return "text_cjk"
    return f"text_{base}" if base in LANG_FIELDS else "text_en"


def index_body(shards: int, replicas: int) -> dict[str, Any]:
    text = {"type": "text", "similarity": "kb_bm25"}
    properties: dict[str, Any] = {name: {"type": "keyword"} for name in KEYWORD_FIELDS}
    properties.update({
        "ordinal": {"type": "integer"},
        "year": {"type": "integer"},
        "page_start": {"type": "integer", "index": False},
        "page_end": {"type": "integer", "index": False},
        "heading_path": {"type": "keyword", "index": False, "doc_values": False},
        "title": {**text, "analyzer": "kb_english",
                  "fields": {"sort": {"type": "keyword", "normalizer": "kb_fold"}}},
        "heading": {**text, "analyzer": "kb_english"},
        # unstemmed words: the term suggester's vocabulary (spelling)
        "spell": {"type": "text", "analyzer": "kb_plain", "norms": False},
        # each passage's distinct spelling forms: the vocabulary (frequencies, prefixes)
        "words": {"type": "keyword"},
        # entity points of the passage (PassageRecord salience) as "type:id#points" keywords
        "salience": {"type": "keyword"},
    })
    for code, analyser in LANG_FIELDS.items():
        # offsets in the postings: the highlighter reads where the words are instead of
        # analysing each hit's text again (most of the cluster's CPU for a page of snippets)
        properties[f"text_{code}"] = {**text, "analyzer": analyser, "index_options": "offsets"}
        properties[f"all_{code}"] = {**text, "analyzer": analyser}
    return {
        "settings": {
            "index": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "similarity": {"kb_bm25": {"type": "BM25", "k1": K1, "b": B}},
                "analysis": {
                    "analyzer": ANALYSERS,
                    "filter": FILTERS,
                    "normalizer": {"kb_fold": {"type": "custom",
                                               "filter": ["lowercase", "asciifolding"]}},
                },
            },
        },
        "mappings": {"dynamic": "strict", "_meta": {"kb_mapping_version": MAPPING_VERSION},
                     # searched, never shown: not kept twice
                     "_source": {"excludes": ["all_*", "spell", "words", "salience"]},
                     "properties": properties},
    }


def _ids(values: Any) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        values = values.split(",")
    return list(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))


def record_to_source(rec: PassageRecord) -> dict[str, Any]:
    """One PassageRecord (kb.search.types) as the document's _source."""
    text = rec.text or ""
    lang = (rec.lang or "").lower() or None
    source: dict[str, Any] = {
        "id": str(rec.id), "doc_id": str(rec.doc_id), "ordinal": int(rec.ordinal or 0),
        "title": rec.title or "", "heading": rec.heading,
        "heading_path": list(rec.heading_path), "path": rec.path or "",
        "type": (rec.format or "").lower(), "lang": lang,
        "date": rec.date or None, "added": rec.added or None,
        "collection": _ids(rec.collection), "page_start": rec.page_start,
        "page_end": rec.page_end, "spell": text,
        "words": sorted(set(spell_forms(text))),
        # the one stored copy of the text, read back for hits (backend._hit) and highlighted
        text_field_for(lang): text,
    }
    title, heading = source["title"], source["heading"]
    # arrays: phrases do not match across the title, heading and text (position gap)
    source["all_" + text_field_for(lang)[len("text_"):]] = (
        [title] * TITLE_WEIGHT + [heading] * TITLE_WEIGHT + [text])
    for key in ("source_id", "event"):
        source[key] = str(getattr(rec, key)) if getattr(rec, key) else None
    source["year"] = int(rec.year) if rec.year is not None else None
    for name in ENTITY_FIELDS:
        source[name] = _ids(rec.entity_ids(name))
    points = rec.salience or {}
    # every tagged entity has points; one where the record gives none (as the Whoosh backend)
    source["salience"] = [f"{salience_key(name, eid)}#{min(MAX_POINTS, int((points.get(name) or {}).get(eid) or 1))}"
                          for name in ENTITY_FIELDS for eid in source[name]]
    return source


def salience_key(field: str, entity_id: str) -> str:
    """An entity's salience key: ids compare case-insensitively."""
    return f"{field}:{entity_id.lower()}"
