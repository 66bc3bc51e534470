"""Names of organisations and topics in the UN languages other than English
(kb/data/names_un6.yaml), laid over the English records of organisations.yaml / topics.yaml.

Each language's list starts with the official name; the rest are acronyms and settled short
forms. A record either has all five languages or is listed under ``untranslated`` with the
reason (tests/kb/test_entities_multilingual.py holds the data to that).
"""
from __future__ import annotations

from typing import Any

from kb.entities.countries import fold

OTHER_LANGS = ("fr", "es", "ru", "ar", "zh")


def official_name(forms: list[str]) -> str | None:
    """The first form that is not an acronym (the lists start with the official name)."""
    for f in forms:
        if not (f.isupper() and " " not in f):
            return f
    return forms[0] if forms else None


def surface_forms(form: str) -> list[str]:
    """A form and the accent-folded variant writers and searchers type ("Organizacion")."""
    folded = fold(form)
    return [form] if folded == form or not folded.isascii() else [form, folded]


def apply(records: dict[str, dict[str, Any]], surfaces: list[tuple[str, str, str, str, str]],
          label: str, names: dict[str, dict[str, list[str]]]) -> None:
    """Add each record's names per language (``names``, ``aliases``) and its surface forms,
    tagged with their language so each language's tagger pipeline only carries its own."""
    for ent_id, by_lang in (names or {}).items():
        rec = records.get(ent_id)
        if rec is None:
            continue  # a name for an id that no longer exists: tests report it
        for lang in OTHER_LANGS:
            forms = list(by_lang.get(lang) or [])
            if not forms:
                continue
            name = official_name(forms)
            if name:
                rec["names"][lang] = name
            known = set(rec.get("aliases", []))
            for form in forms:
                for f in surface_forms(form):
                    if f not in known:
                        rec.setdefault("aliases", []).append(f)
                        known.add(f)
                    surfaces.append((f, label, ent_id, lang, "name"))
