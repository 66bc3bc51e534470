"""Country records: every ISO 3166-1 country from pycountry, enriched from country_converter
(M49 area) and kb/data (groupings, short forms, demonyms).

Names in the six UN languages come from pycountry's gettext catalogues (domain
``iso3166-1``). ISO names are often inverted ("Korea, Republic of"); we turn them into the
reading order people write ("Republic of Korea") and keep the base ("Korea") as an alias
only when no other country shares it.
"""
from __future__ import annotations

import csv
import gettext
import importlib.util
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

import pycountry

# The six UN languages and the gettext locale pycountry ships for each.
UN_LANGUAGES = {"en": None, "fr": "fr", "es": "es", "ru": "ru", "ar": "ar", "zh": "zh_CN"}


def _translators() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for lang, locale in UN_LANGUAGES.items():
        if locale is None:
            out[lang] = None
            continue
        try:
            out[lang] = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale])
        except OSError:  # a pycountry build without this locale: English names only
            out[lang] = None
    return out


def reading_order(name: str) -> str:
    """'Korea, Republic of' -> 'Republic of Korea'; 'Congo, The Democratic Republic of the'
    -> 'The Democratic Republic of the Congo'. Names without an inversion are returned as is."""
    if ", " not in name:
        return name
    base, qualifier = name.split(", ", 1)
    q = qualifier.strip()
    if q.endswith((" of", " of the", " de", " de la", " del", " du", " des", " de l'", " d'")):
        sep = "" if q.endswith("'") else " "
        q = q.removeprefix("The ")
        return f"{q}{sep}{base}"
    return name


def inversion_base(name: str) -> str | None:
    """The part before the comma of an inverted ISO name ('Korea' of 'Korea, Republic of')."""
    if ", " in name:
        return name.split(", ", 1)[0].strip()
    return None


def fold(text: str) -> str:
    """ASCII-fold accents (Türkiye -> Turkiye): writers drop diacritics often."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def m49_areas() -> dict[str, str]:
    """ISO3 -> UN M49 area ("Southern Asia"), from the table country_converter ships, read as
    its CountryConverter reads it (current rows only, empty = unknown). Read directly: importing
    country_converter imports pandas, 0.7 s of every process start for one column."""
    spec = importlib.util.find_spec("country_converter")  # locates the package, runs none of it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("country_converter is not installed (a kb dependency)")
    table = Path(next(iter(spec.submodule_search_locations))) / "country_data.tsv"
    with open(table, encoding="utf-8", newline="") as fh:
        return {row["ISO3"]: row["UNregion"] for row in csv.DictReader(fh, delimiter="\t")
                if not row["obsolete"] and row["UNregion"]}


def build_countries(data: dict[str, Any], regions_data: dict[str, Any]) -> list[dict[str, Any]]:
    """Country records with names per language, aliases (surface forms) and demonyms."""
    m49_area = m49_areas()
    levels = regions_data["m49_levels"]
    groupings = {g: set(codes) for g, codes in regions_data["groupings"].items()}
    translators = _translators()

    records: list[dict[str, Any]] = []
    bases: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # lang -> base -> ids
    for c in pycountry.countries:
        iso3 = c.alpha_3
        names: dict[str, str] = {}
        aliases: dict[str, set[str]] = defaultdict(set)
        en_forms = [c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)]
        for lang, tr in translators.items():
            forms = [f if tr is None else tr.gettext(f) for f in en_forms if f]
            if not forms:
                continue
            primary = c.name if tr is None else tr.gettext(c.name)
            if tr is None or primary != c.name:  # untranslated: no name in that language
                names[lang] = reading_order(primary)
            for f in forms:
                aliases[lang].add(f)
                aliases[lang].add(reading_order(f))
                base = inversion_base(f)
                if base:
                    bases[lang][base].add(iso3)
                    # the UNTERM way of writing it: 'Bolivia (Plurinational State of)'
                    aliases[lang].add(f"{base} ({f.split(', ', 1)[1]})")
        area = m49_area.get(iso3)
        subregion, region = levels.get(area, [None, None]) if area else (None, None)
        records.append({
            "id": iso3,
            "type": "country",
            "name": names["en"],
            "names": names,
            "aliases_by_lang": aliases,
            "iso2": c.alpha_2,
            "iso3": iso3,
            "m49": c.numeric,
            "region": region,
            "subregion": subregion,
            "intermediate_region": area if area and area != subregion else None,
            "groupings": sorted(g.upper() for g, codes in groupings.items() if iso3 in codes),
            "demonyms": list((data.get("demonyms") or {}).get(iso3, [])),
        })

    by_id = {r["id"]: r for r in records}
    owners: dict[str, set[str]] = defaultdict(set)  # any full form -> countries using it
    for r in records:
        for forms in r["aliases_by_lang"].values():
            for f in forms:
                owners[f.casefold()].add(r["id"])
    # An inversion base is an alias only when it names one country ("Bolivia", not "Korea"
    # nor "Congo", which is also the Republic of the Congo's own name).
    for lang, table in bases.items():
        for base, ids in table.items():
            if len(ids) == 1 and owners.get(base.casefold(), ids) <= ids:
                by_id[next(iter(ids))]["aliases_by_lang"][lang].add(base)
    for iso3, extra in (data.get("aliases") or {}).items():
        if iso3 in by_id:
            by_id[iso3]["aliases_by_lang"]["*"].update(extra)
    for r in records:
        flat: set[str] = set()
        for forms in r["aliases_by_lang"].values():
            flat.update(forms)
        for form in list(flat):
            flat.update(_variants(form))
        r["aliases_by_lang"] = {k: sorted(v) for k, v in r["aliases_by_lang"].items()}
        r["aliases"] = sorted(flat - {r["name"]})
    return records


def _variants(form: str) -> set[str]:
    """Spelling variants writers use: folded accents, curly apostrophes, St./Saint."""
    out = {fold(form)}
    if "'" in form:
        out.add(form.replace("'", "\u2019"))
    if form.startswith("Saint "):
        out.update({"St. " + form[6:], "St " + form[6:]})
    out.discard(form)
    return out
