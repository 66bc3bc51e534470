"""Entity tagging: a spaCy pipeline built from the registry.

``spacy.blank(lang)`` tokenizer behind a memo of the pieces it has cut (indexer.tokcache),
then two phrase matchers (names matched on LOWER, acronyms on ORTH; the longest span wins, as
with spaCy's span ruler), then kb's own rules: ambiguity filters for country names
(honorifics, given names, demonyms, "New Mexico"), people with their affiliations
(indexer.people) and, when the ``spacy_model`` setting names an installed model, its PERSON /
ORG / GPE spans merged in with the registry winning. One pipeline per language per process,
built on first use.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Any

import spacy
from spacy.attrs import NORM
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.matcher import PhraseMatcher

from indexer import people as P
from indexer.tokcache import cached
from kb import settings as settings_mod
from kb.entities import Registry, load_registry, morph, slugify
from kb.errors import InvalidInputError, KBError
from kb.model import Mention, Passage

log = logging.getLogger(__name__)

CHUNK_CHARS = 100_000  # below spaCy's max_length; keeps memory per doc small
MATCH_LANGS = {"en", "fr", "es", "ru", "ar", "zh"}


class _Pipe:
    """A tokenizer with the registry's phrase matchers for one language."""

    def __init__(self, registry: Registry, lang: str) -> None:
        code = lang if lang in MATCH_LANGS else "en"
        try:
            self.nlp = spacy.blank(code)
        except (ImportError, ValueError):  # a language spaCy cannot tokenise here: English rules
            self.nlp = spacy.blank("en")
        # Russian and Arabic inflect and prefix names ("Всемирного банка", "والبنك الدولي"):
        # names are matched on a normalised form (kb.entities.morph) instead of the lower case.
        # Set before any text is tokenised: a word's NORM is fixed when spaCy first sees it.
        name_attr = "LOWER"
        if code in morph.KEYS:
            self.nlp.vocab.lex_attr_getters[NORM] = morph.KEYS[code]
            name_attr = "NORM"
        lower, orth = [], []
        seen: set[tuple[str, str]] = set()
        for p in registry.patterns():
            if p["lang"] not in ("*", "en", code):
                continue
            text = p["pattern"]
            key = (p["attr"], text if p["attr"] == "ORTH" else text.lower())
            if key in seen:
                continue  # the first entity to claim a surface keeps it (authored forms first)
            seen.add(key)
            row = {"label": p["label"], "pattern": text, "id": f"{p['type']}|{p['id']}"}
            (orth if p["attr"] == "ORTH" else lower).append(row)
        # spaCy's phrase matcher (what its span ruler runs), twice: names without regard to
        # case, acronyms exactly; the longest span wins afterwards (spans()), so "U.S. Virgin
        # Islands" beats "U.S." whichever matcher found it.
        vocab = self.nlp.vocab
        self.matchers = []
        self._keys: dict[int, tuple[int, int, str, str, str]] = {}
        for attr, rows in ((name_attr, lower), ("ORTH", orth)):
            matcher = PhraseMatcher(vocab, attr=attr)
            for row in rows:
                key = repr((row["label"], row["id"]))
                typ, _, ent_id = row["id"].partition("|")
                # the order spaCy sorts a ruler's spans in: start, end, label hash, id hash
                self._keys[vocab.strings.add(key)] = (vocab.strings.add(row["label"]), vocab.strings.add(row["id"]),
                                                      row["label"], typ, ent_id)
                matcher.add(key, [self.nlp.make_doc(row["pattern"])])
            self.matchers.append(matcher)
        self.people_matcher = P.build_matcher(vocab)
        # after the patterns: they were tokenised by spaCy itself; texts now go through a memo
        self.nlp.tokenizer = cached(self.nlp.tokenizer)

    def spans(self, doc) -> list[tuple[int, int, str, str, str]]:
        """Registry spans (start token, end token, label, type, id), overlaps resolved:
        what two spaCy span rulers and ``spacy.util.filter_spans`` give, in the same order
        (each matcher's spans sorted and deduplicated, names first; longest, then first,
        wins), without making a Span object per match."""
        keys = self._keys
        found: list[tuple[int, int, int, int, str, str, str]] = []
        for matcher in self.matchers:
            found += sorted({(s, e, *keys[m]) for m, s, e in matcher(doc) if s != e})
        found.sort(key=_longest_first, reverse=True)  # stable: ties keep the order above
        seen: set[int] = set()
        out = []
        for s, e, _lh, _ih, label, typ, ent_id in found:
            if s not in seen and e - 1 not in seen:
                out.append((s, e, label, typ, ent_id))
                seen.update(range(s, e))
        out.sort(key=itemgetter(0))
        return out


def _longest_first(span: tuple) -> tuple[int, int]:
    return span[1] - span[0], -span[0]


def _limit(pipe: _Pipe) -> int:
    """Chunk size: under spaCy's max_length whatever it is set to."""
    return min(CHUNK_CHARS, pipe.nlp.max_length - 1)


_PIPES: dict[tuple[int, str], tuple[Registry, _Pipe]] = {}


def _shared_pipe(registry: Registry, lang: str) -> _Pipe:
    """Pipelines are built once per process per (registry, language): building one takes a
    second or two, tagging with it milliseconds."""
    key = (id(registry), lang)
    hit = _PIPES.get(key)
    if hit is None or hit[0] is not registry:
        if len(_PIPES) >= 8:
            _PIPES.pop(next(iter(_PIPES)))
        hit = _PIPES[key] = (registry, _Pipe(registry, lang))
    return hit[1]


class Tagger:
    """Finds countries, regions, organisations, topics and people in text.

    ``registry``: defaults to the base registry; pass ``load_registry(catalog.curation())``
    to apply the curator's corrections. ``model``: an installed spaCy model name or path
    (default: the ``spacy_model`` setting; empty means rules only).
    """

    def __init__(self, registry: Registry | None = None, model: str | None = None) -> None:
        self.registry = registry or load_registry(_stored_curation())
        self.model_name = settings_mod.load()["spacy_model"] if model is None else model
        self._pipes: dict[str, _Pipe] = {}
        self._model = None
        self._people: dict[str, dict[str, Any]] = {}
        rules = self.registry.rules
        self._person_names = rules["person_names"]
        self._followers = rules["country_followers"]
        self._demonym_nouns = rules["demonym_nouns"]

    # -- public API -----------------------------------------------------------
    def tag(self, text: str, lang: str | None = None) -> list[Mention]:
        """Mentions in one text; offsets are into ``text``; passage is None."""
        if not isinstance(text, str):
            raise InvalidInputError("tag() needs a str")
        chunks = list(_chunks(text, _limit(self._pipe(lang))))
        return self._tag_units([(c, off, None) for off, c in chunks], lang)

    def tag_passages(self, passages: list[Passage], lang: str | None = None) -> list[Mention]:
        """Mentions in the passages of one document; offsets are into each passage's text
        and Mention.passage is the passage id. People are merged across the document."""
        units = []
        for p in passages:
            for off, c in _chunks(p.text, _limit(self._pipe(lang or p.language))):
                units.append((c, off, p.id))
        langs = {lang or p.language for p in passages}
        one_lang = lang or (langs.pop() if len(langs) == 1 else None)
        return self._tag_units(units, one_lang)

    def people_of(self, mentions: Iterable[Mention]) -> list[dict[str, Any]]:
        """Person records {id, name, honorific, affiliations, titles, countries} for the
        people among ``mentions`` (as last seen by this tagger), for Catalog.put_person."""
        out, seen = [], set()
        for m in mentions:
            if m.type != "person" or m.id in seen:
                continue
            seen.add(m.id)
            out.append(dict(self._people.get(m.id) or {"id": m.id, "name": m.name, "honorific": None,
                                                       "affiliations": [], "titles": [], "countries": []}))
        return out

    # -- pipeline -------------------------------------------------------------
    def _pipe(self, lang: str | None) -> _Pipe:
        code = (lang or "en").split("-")[0].lower()
        code = code if code in MATCH_LANGS else "en"
        if code not in self._pipes:
            self._pipes[code] = _shared_pipe(self.registry, code)
        return self._pipes[code]

    def _model_nlp(self):
        if not self.model_name:
            return None
        if self._model is None:
            try:
                self._model = spacy.load(self.model_name, exclude=["lemmatizer", "textcat"])
            except OSError as exc:
                raise InvalidInputError(f"spaCy model {self.model_name!r} is not installed: {exc}") from exc
        return self._model

    def _tag_units(self, units: list[tuple[str, int, str | None]], lang: str | None) -> list[Mention]:
        """units: (text, offset of text in its passage or document, passage id)."""
        pipe = self._pipe(lang)
        reg = self.registry
        mentions: list[Mention] = []
        hits: list[tuple[P.PersonHit, int, str | None]] = []  # hit, unit offset, passage id
        table = P.TableReader()
        model = self._model_nlp()
        model_docs = model.pipe(u[0] for u in units) if model is not None else None
        for text, off, pid in units:
            doc = pipe.nlp.make_doc(text)
            ents = self._registry_ents(doc, pipe.spans(doc), text)
            found = P.find_people(doc, {s: (e, t, i) for s, e, t, i, *_ in ents}, matcher=pipe.people_matcher)
            if "|" in text:
                for row, _line in table.rows(text):
                    got = P.table_person(row, reg.resolve)
                    if got:
                        found.append(got[0])
            if model_docs is not None:
                found += self._model_spans(next(model_docs), doc, ents, mentions, off, pid,
                                           [(h.start, h.end) for h in found])
            person_spans = [(h.start, h.end) for h in found if h.honorific or h.source == "model"]
            for _s, _e, typ, ent_id, a, b, surface in ents:
                if typ != "org" and any(ps < b and a < pe for ps, pe in person_spans):
                    continue  # "Mr. Sudan": a person, not a country
                if reg.is_rejected(typ, ent_id, surface):
                    continue
                rec = reg.get(typ, ent_id)
                mentions.append(Mention(typ, ent_id, rec["name"] if rec else ent_id, surface,
                                        a + off, b + off, pid))
            hits += [(h, off, pid) for h in found]
        mentions += self._people_mentions(hits, units)
        mentions.sort(key=lambda m: (m.passage or "", m.start, m.end))
        return mentions

    def _registry_ents(self, doc, spans, text: str) -> list[tuple[int, int, str, str, int, int, str]]:
        """Registry spans after the ambiguity rules: (start token, end token, type, id, start
        char, end char, surface) with char offsets into ``text``, the doc's text."""
        out = []
        n = len(doc)
        covered = {k for s, e, *_ in spans for k in range(s, e)}
        for start, end, label, typ, ent_id in spans:
            if label == "block":
                continue
            first, last = doc[start], doc[end - 1]
            a, b = first.idx, last.idx + len(last)
            surface = text[a:b]
            if typ != "topic" and surface.lower() != surface.upper() and not any(ch.isupper() for ch in surface):
                continue  # 'turkey', 'china': names must be capitalised
            if label == "demonym":
                # 'Korean government' is Korea; 'Korean food' is not (docs/entities.md)
                k = end
                if k < n and doc[k].text in ("'s", "\u2019s"):
                    k += 1
                if not (k < n and doc[k].lower_ in self._demonym_nouns):
                    continue
            elif typ == "country":
                prev = doc[start - 1] if start > 0 else None
                if prev is not None and prev.text in P.HONORIFICS:
                    continue
                if surface in self._person_names and self._looks_like_person(
                        prev, doc[end] if end < n else None, covered):
                    continue
            out.append((start, end, typ, ent_id, a, b, surface))
        return out

    def _looks_like_person(self, prev, nxt, covered: set[int]) -> bool:
        """'Michael Jordan', 'Chad Smith', 'Georgia Tech': a given name, not the country."""
        if prev is not None and prev.text in P.TITLES:
            return True
        if (prev is not None and prev.is_title and prev.is_alpha and prev.lower_ not in STOP_WORDS
                and prev.text not in P.NOT_NAME and prev.i not in covered):
            return True
        return bool(nxt is not None and nxt.is_title and nxt.is_alpha and nxt.lower_ not in STOP_WORDS and nxt.text not in self._followers and nxt.i not in covered)

    def _model_spans(self, mdoc, doc, ents, mentions, off, pid, people) -> list[P.PersonHit]:
        """Statistical PERSON / ORG / GPE spans that no registry span or rule person covers."""
        taken = [(a, b) for _s, _e, _t, _i, a, b, _x in ents] + list(people)
        ent_map = {s: (e, t, i) for s, e, t, i, *_ in ents}
        found: list[P.PersonHit] = []
        for ent in mdoc.ents:
            a, b = ent.start_char, ent.end_char
            if any(x < b and a < y for x, y in taken):
                continue  # the registry wins where it knows the span
            if ent.label_ == "PERSON":
                words = ent.text.split()
                hit = P.PersonHit(a, b, words, passage=0, source="model")
                span = doc.char_span(a, b, alignment_mode="expand")
                if span is not None:
                    P._affiliation_after(doc, span.end, ent_map, hit)
                found.append(hit)
            elif ent.label_ in ("ORG", "GPE", "LOC"):
                known = [r for r in self.registry.resolve(ent.text)
                         if r[0] in (("org",) if ent.label_ == "ORG" else ("country", "region"))]
                if known:
                    typ, ent_id = known[0]
                    rec = self.registry.get(typ, ent_id)
                    name = rec["name"] if rec else ent_id
                elif ent.label_ == "ORG" and slugify(ent.text):
                    typ, ent_id, name = "org", slugify(ent.text), ent.text
                else:
                    continue
                if not self.registry.is_rejected(typ, ent_id, ent.text):
                    mentions.append(Mention(typ, ent_id, name, ent.text, a + off, b + off, pid, "model"))
            taken.append((a, b))
        return found

    def _people_mentions(self, hits, units) -> list[Mention]:
        reg = self.registry
        out: list[Mention] = []
        for group in P.cluster([h for h, _o, _p in hits]):
            record = P.person_record(group)
            pid_ = reg.canonical("person", record["id"])
            if reg.is_rejected("person", pid_):
                continue
            record["id"] = pid_
            self._people[pid_] = record  # this document's record; documents are combined in the catalog
            for h in group:
                off, passage = next((o, p) for hh, o, p in hits if hh is h)
                text = _unit_text(units, off, passage)[h.start:h.end]
                if reg.is_rejected("person", pid_, text):
                    continue
                out.append(Mention("person", pid_, record["name"], text, h.start + off, h.end + off,
                                   passage, h.source))
        return out


def _stored_curation() -> list[dict[str, Any]]:
    """The curator's rows from the catalog in the KB home, so a re-ingest keeps them; none
    when there is no catalog yet."""
    from pathlib import Path

    from kb.store import Catalog

    path = Path(settings_mod.load()["home"]) / "catalog.sqlite"
    if not path.is_file():
        return []
    try:
        cat = Catalog(path, readonly=True)
        try:
            return cat.curation()
        finally:
            cat.close()
    except (KBError, sqlite3.Error) as exc:  # an old or locked catalog must not stop tagging
        log.warning("could not read curation from %s: %s", path, exc)
        return []


def _unit_text(units, off: int, passage: str | None) -> str:
    for text, o, p in units:
        if o == off and p == passage:
            return text
    return ""


def _chunks(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """(offset, chunk) pieces under ``limit`` chars, cut at paragraph, line or sentence ends."""
    if len(text) <= limit:
        yield 0, text
        return
    pos = 0
    while pos < len(text):
        end = min(pos + limit, len(text))
        if end < len(text):
            cut = -1
            for sep in ("\n\n", "\n", ". ", " "):
                cut = text.rfind(sep, pos + limit // 2, end)
                if cut != -1:
                    end = cut + len(sep)
                    break
        yield pos, text[pos:end]
        pos = end
