"""The entity registry: records built from pycountry / country_converter / kb/data, checked
against the UN reference tables in ../shared (read in place, never copied)."""
from __future__ import annotations

import csv
import re

import pycountry
import pytest

from kb.entities import case_sensitive, load_registry
from kb.errors import InvalidInputError


@pytest.fixture(scope="module")
def reg():
    return load_registry()


def test_every_iso_country_with_codes_and_m49(reg):
    countries = reg.all("country")
    assert {c["id"] for c in countries} == {c.alpha_3 for c in pycountry.countries}
    kor = reg.get("country", "KOR")
    assert (kor["iso2"], kor["iso3"], kor["m49"], kor["region"], kor["subregion"]) == \
        ("KR", "KOR", "410", "Asia", "Eastern Asia")
    assert reg.get("country", "kor") == kor  # ids are case-insensitive for countries
    assert set(kor["names"]) == {"en", "fr", "es", "ru", "ar", "zh"}
    assert "Korean" in kor["demonyms"]
    assert reg.get("country", "NPL")["groupings"] == ["LDC", "LLDC"]
    assert reg.get("country", "FJI")["groupings"] == ["SIDS"]


def _m49_rows(shared):
    path = shared / "data" / "un-reference" / "crafd__unsd_m49_countries.csv"
    with open(path, encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["iso_alpha3"]]


def test_m49_areas_and_groupings_match_the_un_table(reg, shared):
    rows = _m49_rows(shared)
    wrong = []
    for r in rows:
        c = reg.get("country", r["iso_alpha3"])
        if c is None:
            continue
        expect = (r["region_name"] or None, r["sub_region_name"] or None)
        if (c["region"], c["subregion"]) != expect:
            wrong.append((r["iso_alpha3"], expect, (c["region"], c["subregion"])))
        for flag, group in (("is_ldc", "LDC"), ("is_lldc", "LLDC"), ("is_sids", "SIDS")):
            if (r[flag] == "True") != (group in c["groupings"]):
                wrong.append((r["iso_alpha3"], group))
    assert len(rows) > 240
    assert len(wrong) <= 3, wrong  # M49 and ISO disagree on a few territories (Sark, Antarctica)


@pytest.mark.parametrize("lang, minimum", [("English", 0.97), ("French", 0.9), ("Spanish", 0.85),
                                           ("Russian", 0.85), ("Chinese", 0.85), ("Arabic", 0.6)])
def test_unterm_short_names_resolve(reg, shared, lang, minimum):
    """UNTERM short names (six UN languages) map to the right country; pycountry's
    translations differ from UNTERM for some names, most in Arabic."""
    path = shared / "data" / "un-reference" / "datasets-country-codes__data_country-codes.csv"
    with open(path, encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get(f"UNTERM {lang} Short") and r["ISO3166-1-Alpha-3"]]
    ok = 0
    for r in rows:
        name = re.sub(r"\s*\*+$", "", r[f"UNTERM {lang} Short"].strip())
        ok += ("country", r["ISO3166-1-Alpha-3"]) in reg.resolve(name)
    assert len(rows) >= 190
    assert ok / len(rows) >= minimum


@pytest.mark.parametrize("surface, expected", [
    ("Korea", [("country", "KOR")]), ("South Korea", [("country", "KOR")]),
    ("North Korea", [("country", "PRK")]), ("U.S.", [("country", "USA")]),
    ("Türkiye", [("country", "TUR")]), ("Turkey", [("country", "TUR")]), ("Viet Nam", [("country", "VNM")]),
    ("Panama's", [("country", "PAN")]), ("Corée", [("country", "KOR")]), ("México", [("country", "MEX")]),
    ("Royaume-Uni", [("country", "GBR")]), ("Congo", [("country", "COG")]),
    ("Bolivia (Plurinational State of)", [("country", "BOL")]),
    ("UNESCAP", [("org", "unescap")]), ("CEPAL", [("org", "eclac")]), ("UNECE", [("org", "unece")]),
    ("Asia Pacific", [("region", "asia-pacific")]), ("open government data", [("topic", "open-data")]),
    ("Atlantis", []),
])
def test_resolve(reg, surface, expected):
    assert reg.resolve(surface) == expected


def test_org_records(reg):
    dpadm, undesa = reg.get("org", "dpadm"), reg.get("org", "undesa")
    assert dpadm["parent"] == "undesa" and reg.get("org", "unpog")["parent"] == "undesa"
    assert {"dpadm", "unpog"} <= set(undesa["children"])
    assert undesa["kind"] == "un-entity" and reg.get("org", "adb")["kind"] == "development-bank"
    assert reg.get("org", "mopas")["country"] == "KOR"
    for commission, names in {"unescap": ["ESCAP", "UNESCAP"], "unescwa": ["ESCWA", "UNESCWA"],
                              "uneca": ["ECA", "UNECA"], "eclac": ["ECLAC", "CEPAL"], "unece": ["ECE", "UNECE"]}.items():
        assert set(names) <= set(reg.get("org", commission)["acronyms"])
    parents = {o["parent"] for o in reg.all("org") if o["parent"]}
    assert parents <= {o["id"] for o in reg.all("org")}  # every parent is a known org


def test_un_system_acronyms_are_known(reg, shared):
    """The UN system list's short names resolve to an organisation of ours."""
    path = shared / "data" / "un-reference" / "crafd__un_system.csv"
    with open(path, encoding="utf-8-sig") as fh:
        names = [r["short_organization_name"].strip() for r in csv.DictReader(fh)]
    missing = [n for n in names if n and not [t for t in reg.resolve(n) if t[0] == "org"]]
    assert len(missing) <= 3, missing


def test_regions_and_topics(reg):
    ap = reg.get("region", "asia-pacific")
    assert {"KOR", "JPN", "FJI", "KAZ"} <= set(ap["members"]) and "SAU" not in ap["members"]
    assert "SAU" in reg.get("region", "western-asia")["members"]
    assert "BRA" in reg.get("region", "latin-america-caribbean")["members"]
    assert len(reg.get("region", "africa")["members"]) >= 54
    topics = {t["id"]: t for t in reg.all("topic")}
    for slug in ("open-data", "e-participation", "digital-divide", "broadband", "cloud-computing", "ppp",
                 "cybersecurity", "privacy", "digital-identity", "interoperability", "e-procurement",
                 "legal-framework", "capacity-building", "mobile-government", "social-media",
                 "smart-government", "anti-corruption", "disaster-management", "mdgs-post-2015",
                 "online-services"):
        assert topics[slug]["synonyms"], slug
    assert topics["service-maturity"]["parent"] == "online-services"
    with pytest.raises(InvalidInputError):
        reg.all("planet")


def test_case_sensitivity_rule():
    assert case_sensitive("UNDESA") and case_sensitive("U.S.") and case_sensitive("AfDB")
    assert case_sensitive("UN-Habitat") and case_sensitive("G20")
    assert not case_sensitive("Guinea-Bissau") and not case_sensitive("World Bank")
    assert not case_sensitive("e-Notary")


def test_curation_overlay(reg):
    cur = load_registry([
        {"action": "alias", "type": "org", "entity_id": "undesa", "value": "Economic and Social Affairs"},
        {"action": "merge", "type": "org", "entity_id": "unpog", "value": "undesa"},
        {"action": "reject", "type": None, "entity_id": None, "value": "Korea"},
        {"action": "reject", "type": "country", "entity_id": "JPN", "value": "JPN"},
    ])
    assert cur.resolve("Economic and Social Affairs") == [("org", "undesa")]
    assert cur.resolve("UNPOG") == [("org", "undesa")] and cur.canonical("org", "unpog") == "undesa"
    assert cur.resolve("Korea") == [] and cur.resolve("Republic of Korea") == [("country", "KOR")]
    assert cur.is_rejected("country", "JPN")
    assert "unpog" not in {o["id"] for o in cur.all("org")}
    # the base registry is untouched, and the same rows give the same (cached) registry
    assert reg.resolve("UNPOG") == [("org", "unpog")] and reg.resolve("Korea") == [("country", "KOR")]
    assert load_registry(list(map(dict, [{"action": "reject", "value": "Korea"}]))) is \
        load_registry([{"action": "reject", "value": "Korea"}])


def test_m49_areas_read_directly_equal_country_converter_s_own_table():
    # The registry reads country_converter's table without the package (and its pandas):
    # the areas must be those its own loader gives, current countries only.
    import country_converter as coco

    from kb.entities.countries import m49_areas

    rows = coco.CountryConverter().data
    expected = {str(r.ISO3): str(r.UNregion) for r in rows.itertuples() if isinstance(r.UNregion, str)}
    assert m49_areas() == expected
    assert m49_areas()["KAZ"] == "Central Asia"
