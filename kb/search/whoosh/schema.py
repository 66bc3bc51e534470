"""The Whoosh schema of the passage index and the mapping of PassageRecords onto it.

Text goes into one field per analysis chain: ``text`` (English stemming and stop words, also
used for languages without a Whoosh stemmer), ``text_fr``/``text_es``/``text_ru``/``text_ar``
(those languages' stemmers) and ``text_cjk`` (character bigrams for Chinese, Japanese and
Korean). Every chain folds accents, so "communique" finds "communiqué". Keeping each language
in its own field keeps BM25's length statistics per language honest.

Bump SCHEMA_VERSION whenever a field or an analyzer changes: the index then reports
``needs_rebuild()`` and ``kb reindex`` rebuilds it from the catalog.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from whoosh import fields
from whoosh.analysis import (
    CharsetFilter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
    Token,
    Tokenizer,
)
from whoosh.analysis.filters import STOP_WORDS
from whoosh.lang import NoStopWords, stopwords_for_language
from whoosh.support.charset import accent_map

from kb.search.querytree import ENTITY_FIELDS
from kb.search.types import PassageRecord

# 2: collection (facet), added (ingest time, sort=added). 3: the schema Whoosh pickles into
# the index names its tokenizer's module, which moved to kb.search.whoosh.schema: an index
# written before cannot be opened, so it is rebuilt.
# 4: salience (per-passage entity points, kb.salience) ranks entity matches.
SCHEMA_VERSION = 4

# Languages with their own stemmed field; anything else is analysed as English.
STEMMED_LANGS = ("fr", "es", "ru", "ar")
CJK_LANGS = ("zh", "ja", "ko")
TEXT_FIELDS = ("text",) + tuple(f"text_{lang}" for lang in STEMMED_LANGS) + ("text_cjk",)
# Entity fields (ENTITY_FIELDS, the query language's) hold canonical ids (KOR, undesa,
# open-data); multi-valued.
# Fields the index keeps for ranking only: not in the query language (kb.search.querytree).
INTERNAL_FIELDS = ("salience",)
# Field the query language accepts for `year:` (numeric, ranges) vs. the facet/filter key.
YEAR_KEY = "year_k"

# Whoosh's short list plus its English list, so question words ("who", "what") drop out.
ENGLISH_STOPS = frozenset(STOP_WORDS) | frozenset(stopwords_for_language("en"))

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_RUN = re.compile(rf"[{_CJK}]+|\w+", re.UNICODE)
CJK_CHAR = re.compile(rf"[{_CJK}]")


class CJKBigramTokenizer(Tokenizer):
    """Words for non-CJK runs, overlapping character bigrams for CJK runs (a lone CJK
    character is its own token). Positions and character offsets are kept so phrases and
    highlighting work."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CJKBigramTokenizer)

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "", **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        for m in _CJK_RUN.finditer(value):
            run = m.group()
            if CJK_CHAR.match(run):
                pieces = [(run[i:i + 2], m.start() + i) for i in range(max(1, len(run) - 1))]
            else:
                pieces = [(run, m.start())]
            for text, start in pieces:
                t.text = text
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = text
                if positions:
                    t.pos = pos
                    pos += 1
                if chars:
                    t.startchar = start_char + start
                    t.endchar = start_char + start + len(text)
                yield t


def _analyzer(lang: str | None):
    """Tokenize, lowercase, fold accents, drop stop words, stem. Russian folds after
    stemming because folding й→и would confuse the Russian stemmer."""
    tok = RegexTokenizer(r"\w+(?:[.'’]\w+)*")
    fold = CharsetFilter(accent_map)
    if lang is None:
        return tok | LowercaseFilter() | fold | StopFilter(ENGLISH_STOPS) | StemFilter(lang="en")
    try:
        stops = StopFilter(stopwords_for_language(lang))
    except NoStopWords:  # Whoosh has no Arabic stop list; stemming alone still helps
        stops = StopFilter(frozenset())
    if lang == "ru":
        return tok | LowercaseFilter() | stops | StemFilter(lang="ru") | fold
    return tok | LowercaseFilter() | fold | stops | StemFilter(lang=lang)


def plain_analyzer():
    """No stemming, no stop words: the form used for spelling suggestions."""
    return RegexTokenizer(r"\w+(?:[.'’]\w+)*") | LowercaseFilter() | CharsetFilter(accent_map)


def build_schema() -> fields.Schema:
    text_fields: dict[str, Any] = {"text": fields.TEXT(analyzer=_analyzer(None))}
    for lang in STEMMED_LANGS:
        text_fields[f"text_{lang}"] = fields.TEXT(analyzer=_analyzer(lang))
    text_fields["text_cjk"] = fields.TEXT(analyzer=CJKBigramTokenizer() | LowercaseFilter() | CharsetFilter(accent_map))
    keyword = {"stored": True, "commas": True, "scorable": False, "lowercase": False}
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        doc_id=fields.ID(stored=True),
        ordinal=fields.NUMERIC(int, stored=True),
        title=fields.TEXT(analyzer=_analyzer(None), stored=True),
        heading=fields.TEXT(analyzer=_analyzer(None), stored=True),
        heading_path=fields.STORED(),
        # Unstemmed words for did-you-mean. Whoosh's own `spelling=True` would also feed
        # fuzzy queries unstemmed words against the stemmed field, so it stays off.
        spell=fields.SpellField(plain_analyzer()),
        body=fields.STORED(),
        path=fields.ID(stored=True),
        source_id=fields.ID(stored=True),
        type=fields.ID(stored=True),
        year=fields.NUMERIC(int, stored=True),
        year_k=fields.ID(),
        lang=fields.ID(stored=True),
        event=fields.ID(stored=True),
        date=fields.STORED(),
        added=fields.STORED(),  # when the document was ingested (ISO 8601): sort=added, feeds
        collection=fields.KEYWORD(**keyword),
        page_start=fields.STORED(),
        page_end=fields.STORED(),
        **{name: fields.KEYWORD(**keyword) for name in ENTITY_FIELDS},
        # one term per tagged entity, "type:id", its frequency the passage's salience points
        salience=fields.KEYWORD(commas=True, scorable=True, lowercase=False),
        **text_fields,
    )


def text_field_for(lang: str | None) -> str:
    base = (lang or "").lower().split("-")[0].split("_")[0]
    if base in STEMMED_LANGS:
        return f"text_{base}"
    if base in CJK_LANGS:
        return "text_cjk"
    return "text"


def _ids(values: Any) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        values = values.split(",")
    # Commas separate values in a KEYWORD field, so they cannot appear inside one.
    return [str(v).strip().replace(",", " ") for v in values if str(v).strip()]


def record_to_doc(rec: PassageRecord) -> dict[str, Any]:
    """One PassageRecord as the keyword arguments of ``writer.add_document``."""
    text = rec.text or ""
    lang = (rec.lang or "").lower() or None
    field = text_field_for(lang)
    doc: dict[str, Any] = {
        "id": str(rec.id), "doc_id": str(rec.doc_id), "ordinal": int(rec.ordinal or 0),
        "title": rec.title or "", "heading": rec.heading,
        "heading_path": json.dumps(list(rec.heading_path), ensure_ascii=False),
        "path": rec.path or "", "type": (rec.format or "").lower(),
        "date": rec.date, "added": rec.added, "page_start": rec.page_start, "page_end": rec.page_end,
    }
    doc["body"] = text  # the stored copy, whatever field indexes it
    doc[field] = text
    doc["spell"] = text
    for key in ("source_id", "event"):
        if getattr(rec, key):
            doc[key] = str(getattr(rec, key))
    if lang:
        doc["lang"] = lang
    if rec.year is not None:
        doc["year"] = int(rec.year)
        doc[YEAR_KEY] = str(int(rec.year))
    for name in (*ENTITY_FIELDS, "collection"):
        ids = _ids(getattr(rec, name))
        if ids:
            doc[name] = ",".join(dict.fromkeys(ids))
    salience = salience_terms(rec)
    if salience:
        doc["salience"] = salience
    return doc


def salience_key(field: str, ent_id: str) -> str:
    return f"{field}:{ent_id}"


def salience_terms(rec: PassageRecord) -> str:
    """The record's salience points as a KEYWORD value: each entity's key repeated once a
    point (Whoosh keeps the count as the term's frequency)."""
    points = rec.salience or {}
    out: list[str] = []
    for name in ENTITY_FIELDS:
        for ent_id in dict.fromkeys(_ids(rec.entity_ids(name))):
            n = (points.get(name) or {}).get(ent_id, 1)
            out += [salience_key(name, ent_id)] * max(1, min(int(n), 50))
    return ",".join(out)
