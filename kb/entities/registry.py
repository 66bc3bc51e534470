"""The entity registry: canonical records for countries, regions, organisations and topics,
their surface forms, and the curator's corrections (alias, merge, reject) laid over them.

People are not in the registry: they are built from the documents (indexer.people); the
registry only carries the curation that concerns them (merges and rejections).
"""
from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from kb.entities import morph, multilingual
from kb.entities.countries import build_countries, fold
from kb.errors import InvalidInputError
from kb.model import ENTITY_TYPES

DATA = Path(__file__).resolve().parent.parent / "data"
LANGS = ("en", "fr", "es", "ru", "ar", "zh")
_POSSESSIVE = re.compile(r"(?:['\u2019]s?)$")
# UN terminology writes articles after the name: 'Niger (the)', 'Comoras (las)', 'Iran (l')'.
_ARTICLE = re.compile(r"\s*\((?:the|l'|l\u2019|la|le|les|el|los|las)\)$", re.IGNORECASE)


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(name: str) -> dict[str, Any]:
    with open(DATA / name, encoding="utf-8") as fh:
        # libyaml's parser when PyYAML has it (ten times faster: every process start pays
        # this), the same safe constructors either way.
        return yaml.load(fh, Loader=_YAML_LOADER) or {}


def case_sensitive(surface: str) -> bool:
    """Acronym-like forms (UNDESA, U.S., AfDB, G20, MDGs) are matched exactly; names are
    matched without regard to case."""
    if " " in surface:
        return False
    for part in re.split(r"[-/]", surface):
        upper = sum(1 for ch in part if ch.isupper())
        lower = sum(1 for ch in part if ch.islower())
        if upper >= 2 or (upper >= 1 and lower == 0):
            return True  # 'Guinea-Bissau' is a name; 'UN-Habitat', 'AfDB' are acronyms
    return False


def norm_surface(text: str) -> str:
    """The key resolve() looks surfaces up by: trimmed, possessive dropped, case-folded."""
    text = _ARTICLE.sub("", " ".join(text.split()))
    text = _POSSESSIVE.sub("", text) if len(text) > 3 else text
    return text.casefold()


class Registry:
    """Canonical records and surface forms; immutable once built."""

    def __init__(self, records: dict[str, dict[str, dict[str, Any]]],
                 surfaces: list[tuple[str, str, str, str, str]], rules: dict[str, Any]) -> None:
        self._records = records  # type -> id -> record
        # (surface, label, id, lang, role) where role is name | demonym | block
        self._surfaces = surfaces
        self.rules = rules
        self.merges: dict[tuple[str, str], str] = {}
        self.rejected_ids: set[tuple[str, str]] = set()
        self.rejected_surfaces: set[str] = set()
        self._index()

    def _index(self) -> None:
        self._lookup: dict[str, list[tuple[str, str]]] = {}
        # Russian / Arabic surfaces by their normalised words: "Всемирного банка" finds the
        # World Bank as the tagger does (kb.entities.morph)
        self._morph_lookup: dict[str, list[tuple[str, str]]] = {}
        for surface, label, ent_id, _lang, role in self._surfaces:
            if role == "block":
                continue
            key = norm_surface(surface)
            hits = self._lookup.setdefault(key, [])
            target = (label, self.canonical(label, ent_id))
            if target not in hits and not self.is_rejected(label, ent_id, surface):
                hits.append(target)
                mkey = _morph_key(surface)
                if mkey:
                    mhits = self._morph_lookup.setdefault(mkey, [])
                    if target not in mhits:
                        mhits.append(target)

    # -- lookups --------------------------------------------------------------
    def canonical(self, type_: str, ent_id: str) -> str:
        """Follow curator merges: the id a mention of (type, id) is stored under."""
        seen = set()
        while (type_, ent_id) in self.merges and ent_id not in seen:
            seen.add(ent_id)
            ent_id = self.merges[(type_, ent_id)]
        return ent_id

    def is_rejected(self, type_: str, ent_id: str, surface: str | None = None) -> bool:
        if (type_, ent_id) in self.rejected_ids or (type_, self.canonical(type_, ent_id)) in self.rejected_ids:
            return True
        # no rejected surfaces (no curation): skip normalising every mention's text
        return surface is not None and bool(self.rejected_surfaces) and norm_surface(surface) in self.rejected_surfaces

    def get(self, type_: str, ent_id: str) -> dict[str, Any] | None:
        table = self._records.get(type_, {})
        rec = table.get(self.canonical(type_, ent_id)) or table.get(ent_id.upper() if type_ == "country" else ent_id)
        return rec

    def all(self, type_: str) -> list[dict[str, Any]]:
        if type_ not in ENTITY_TYPES:
            raise InvalidInputError(f"unknown entity type {type_!r}; one of {', '.join(ENTITY_TYPES)}")
        merged_away = {i for (t, i) in self.merges if t == type_}
        return [r for i, r in sorted(self._records.get(type_, {}).items()) if i not in merged_away]

    def find_type(self, ent_id: str) -> str | None:
        """The type of a known id (country ids are ISO3, others slugs)."""
        for t in ("country", "org", "region", "topic"):
            if ent_id in self._records.get(t, {}) or (t == "country" and ent_id.upper() in self._records[t]):
                return t
        return None

    def resolve(self, text: str) -> list[tuple[str, str]]:
        """Surface lookup: 'Korea' -> [('country', 'KOR')]; [] when unknown. Russian and
        Arabic text is also looked up by its normalised words ('Всемирного банка')."""
        hits = self._lookup.get(norm_surface(text))
        if hits is None:
            mkey = _morph_key(text)
            hits = self._morph_lookup.get(mkey, []) if mkey else []
        return list(hits)

    def patterns(self) -> list[dict[str, Any]]:
        """Phrase patterns for the tagger: label (entity type, 'demonym' or 'block'), id,
        pattern text, attr (ORTH for acronyms, LOWER for names) and lang ('*' = any)."""
        out = []
        for surface, label, ent_id, lang, role in self._surfaces:
            if role != "block" and self.is_rejected(label, ent_id, surface):
                continue
            out.append({"label": "block" if role == "block" else ("demonym" if role == "demonym" else label),
                        "type": label, "id": self.canonical(label, ent_id), "pattern": surface,
                        "attr": "ORTH" if case_sensitive(surface) else "LOWER", "lang": lang})
        return out

    # -- curation -------------------------------------------------------------
    def with_curation(self, rows: Iterable[dict[str, Any]]) -> Registry:
        """A copy with the curator's alias / merge / reject rows applied in order."""
        new = copy.copy(self)
        new._surfaces = list(self._surfaces)
        new.merges = dict(self.merges)
        new.rejected_ids = set(self.rejected_ids)
        new.rejected_surfaces = set(self.rejected_surfaces)
        for row in rows:
            action, value = row.get("action"), (row.get("value") or "").strip()
            ent_id, type_ = row.get("entity_id"), row.get("type")
            if action == "alias" and ent_id:
                type_ = type_ or self.find_type(ent_id) or "person"
                ent_id = ent_id.upper() if type_ == "country" else ent_id
                new._surfaces.insert(0, (value, type_, ent_id, "*", "name"))
            elif action == "merge" and ent_id and value:
                type_ = type_ or self.find_type(ent_id) or self.find_type(value) or "person"
                if type_ == "country":
                    ent_id, value = ent_id.upper(), value.upper()
                if ent_id != value:
                    new.merges[(type_, ent_id)] = value
            elif action == "reject":
                if ent_id:
                    type_ = type_ or self.find_type(ent_id) or "person"
                    new.rejected_ids.add((type_, ent_id.upper() if type_ == "country" else ent_id))
                elif value:
                    new.rejected_surfaces.add(norm_surface(value))
        new._index()
        return new


def _morph_key(text: str) -> str | None:
    """The words of a Russian or Arabic surface through kb.entities.morph; None for others."""
    lang = _guess_lang(text)
    if lang not in morph.KEYS:
        return None
    key = morph.KEYS[lang]
    return " ".join(key(w) for w in re.findall(r"\w+", text))


# -- building -----------------------------------------------------------------
def _build_base() -> Registry:
    cdata, rdata = _load_yaml("countries.yaml"), _load_yaml("regions.yaml")
    odata, tdata = _load_yaml("organisations.yaml"), _load_yaml("topics.yaml")
    records: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in ENTITY_TYPES if t != "person"}
    surfaces: list[tuple[str, str, str, str, str]] = []

    countries = build_countries(cdata, rdata)
    for c in countries:
        by_lang = c.pop("aliases_by_lang")
        records["country"][c["id"]] = c
        # authored forms first: they win when two countries claim a surface ("Congo")
        for form in by_lang.get("*", []):
            for f in {form, fold(form)}:
                surfaces.append((f, "country", c["id"], "*", "name"))
    for c in countries:
        for form in [c["name"], *c["aliases"]]:
            surfaces.append((form, "country", c["id"], _lang_of(form, c), "name"))
        for d in c["demonyms"]:
            surfaces.append((d, "country", c["id"], "en", "demonym"))
    for phrase in cdata.get("not_countries", []):
        surfaces.append((phrase, "country", "", "*", "block"))

    _add_regions(records, surfaces, rdata, countries)
    _add_orgs(records, surfaces, odata)
    _add_topics(records, surfaces, tdata)
    # names in the other UN languages after the English ones: a surface claimed twice keeps
    # its English owner (the tagger keeps the first pattern of a surface)
    ndata = _load_yaml("names_un6.yaml")
    multilingual.apply(records["org"], surfaces, "org", ndata.get("organisations"))
    multilingual.apply(records["topic"], surfaces, "topic", ndata.get("topics"))
    rules = {
        "person_names": set(cdata.get("person_names", [])),
        "country_followers": set(cdata.get("country_followers", [])),
        "demonym_nouns": {w.lower() for w in cdata.get("demonym_nouns", [])},
    }
    return Registry(records, surfaces, rules)


def _lang_of(form: str, country: dict[str, Any]) -> str:
    names = country["names"]
    for lang in LANGS:
        if names.get(lang) == form:
            return lang
    return "*" if form.isascii() else _guess_lang(form)


def _guess_lang(form: str) -> str:
    if any("\u0600" <= ch <= "\u06ff" for ch in form):
        return "ar"
    if any("\u0400" <= ch <= "\u04ff" for ch in form):
        return "ru"
    if any("\u4e00" <= ch <= "\u9fff" for ch in form):
        return "zh"
    return "*"  # Latin script with accents: French / Spanish / folded forms


def _add_regions(records, surfaces, rdata, countries) -> None:
    by_level: dict[str, set[str]] = {}
    for c in countries:
        for level in (c["region"], c["subregion"], c["intermediate_region"]):
            if level:
                by_level.setdefault(level, set()).add(c["id"])
    groupings = {g: set(v) for g, v in rdata["groupings"].items()}
    built: dict[str, dict[str, Any]] = {}
    for r in rdata["regions"]:
        members: set[str] = set(by_level.get(r.get("m49", ""), set()))
        for u in r.get("union", []):
            members |= set(built[u]["members"])
        for x in r.get("members_exclude_union", []):
            members -= set(built[x]["members"])
        members |= set(r.get("members_extra", []))
        if r.get("grouping"):
            members |= groupings[r["grouping"]]
        rec = {"id": r["id"], "type": "region", "name": r["name"],
               "names": {"en": r["name"], **{k: r[k] for k in ("fr", "es") if k in r}},
               "aliases": list(r.get("aliases", [])), "members": sorted(members),
               "commission": r.get("commission")}
        built[r["id"]] = rec
        records["region"][r["id"]] = rec
        if r.get("match", True):
            for form in [r["name"], *rec["aliases"]]:
                surfaces.append((form, "region", r["id"], "*", "name"))


def _add_orgs(records, surfaces, odata) -> None:
    orgs = odata["organisations"]
    for o in orgs:
        rec = {"id": o["id"], "type": "org", "name": o["name"], "names": {"en": o["name"]},
               "acronyms": list(o.get("acronyms", [])), "aliases": list(o.get("aliases", [])),
               "kind": o.get("kind"), "parent": o.get("parent"), "children": [],
               "country": o.get("country"), "url": o.get("url")}
        records["org"][o["id"]] = rec
        for form in [rec["name"], *rec["acronyms"], *rec["aliases"]]:
            surfaces.append((form, "org", o["id"], "*", "name"))
    for rec in records["org"].values():
        if rec["parent"] in records["org"]:
            records["org"][rec["parent"]]["children"].append(rec["id"])


def _add_topics(records, surfaces, tdata) -> None:
    for t in tdata["topics"]:
        rec = {"id": t["id"], "type": "topic", "name": t["name"], "names": {"en": t["name"]},
               "synonyms": list(t.get("synonyms", [])), "parent": t.get("parent"), "children": [],
               "aliases": [*t.get("fr", []), *t.get("es", [])]}
        records["topic"][t["id"]] = rec
        for form in [*rec["synonyms"]]:
            surfaces.append((form, "topic", t["id"], "en", "name"))
        for lang in ("fr", "es"):
            for form in t.get(lang, []):
                surfaces.append((form, "topic", t["id"], lang, "name"))
    for rec in records["topic"].values():
        if rec["parent"] in records["topic"]:
            records["topic"][rec["parent"]]["children"].append(rec["id"])


@lru_cache(maxsize=1)
def base_registry() -> Registry:
    return _build_base()


@lru_cache(maxsize=32)
def _curated(rows: tuple[tuple[tuple[str, Any], ...], ...]) -> Registry:
    return base_registry().with_curation(dict(r) for r in rows)


def load_registry(curation: list[dict[str, Any]] | None = None) -> Registry:
    """The registry with the catalog's curation rows applied (cached per distinct rows)."""
    if not curation:
        return base_registry()
    key = tuple(tuple(sorted((k, row.get(k)) for k in ("action", "type", "entity_id", "value")))
                for row in curation)
    return _curated(key)
