"""Ambiguity rules of the tagger: each case of docs/entities.md on a sentence."""
from __future__ import annotations

import pytest

from indexer.tag import Tagger


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(model="")


def found(tagger, text, lang=None, type_=None):
    return [(m.type, m.id, m.text) for m in tagger.tag(text, lang) if type_ is None or m.type == type_]


def countries(tagger, text, lang=None):
    return [m.id for m in tagger.tag(text, lang) if m.type == "country"]


@pytest.mark.parametrize("text, expected", [
    ("North Korea launched a missile.", ["PRK"]),
    ("The Democratic People's Republic of Korea and the Republic of Korea met.", ["PRK", "KOR"]),
    ("South Korea, Korea and the ROK are one country.", ["KOR", "KOR", "KOR"]),
    ("Papua New Guinea is not Guinea.", ["PNG", "GIN"]),
    ("Guinea-Bissau and Equatorial Guinea.", ["GNB", "GNQ"]),
    ("New Mexico is a US state; Mexico is a country.", ["USA", "MEX"]),
    ("Taiwan Province of China is listed apart from China.", ["TWN", "CHN"]),
    ("The US, the U.S., the USA and the United States of America.", ["USA"] * 4),
    ("Russia, Türkiye, Turkey, Viet Nam and Vietnam.", ["RUS", "TUR", "TUR", "VNM", "VNM"]),
    ("The UK, Britain and the United Kingdom.", ["GBR"] * 3),
    ("Panama's e-government policies and Panama’s experience.", ["PAN", "PAN"]),
    ("South Sudan and Sudan; Niger and Nigeria; Dominica and the Dominican Republic.",
     ["SSD", "SDN", "NER", "NGA", "DMA", "DOM"]),
    ("The Congo and the Democratic Republic of the Congo.", ["COG", "COD"]),
])
def test_country_names(tagger, text, expected):
    assert countries(tagger, text) == expected


def test_honorific_makes_a_person(tagger):
    got = found(tagger, "Mr. Sudan from the World Bank presented SMART Government.")
    assert ("person", "sudan", "Sudan") in got
    assert not [g for g in got if g[0] == "country"]
    people = tagger.people_of(tagger.tag("Mr. Sudan from the World Bank presented."))
    assert people[0]["affiliations"] == ["world-bank"]


@pytest.mark.parametrize("text, expected", [
    ("Michael Jordan played basketball.", []),
    ("Chad Smith is a drummer.", []),
    ("Georgia Tech is a university in Atlanta, Georgia.", []),
    ("The Jordan River and the Niger Delta are not countries.", []),
    ("Refugees arrived in Jordan and in Chad.", ["JOR", "TCD"]),
    ("Georgia and Niger signed the agreement.", ["GEO", "NER"]),
    ("The Government of Jordan and President of Chad.", ["JOR", "TCD"]),
    ("H.E. Ms. Georgia Brown spoke.", []),
])
def test_names_that_are_also_countries(tagger, text, expected):
    assert countries(tagger, text) == expected


def test_lowercase_words_are_not_countries(tagger):
    assert countries(tagger, "We ate turkey from fine china in chad.") == []


@pytest.mark.parametrize("text, expected", [
    ("The Korean government invested.", ["KOR"]),
    ("Korean food is popular; the Korean Peninsula.", []),
    ("The Russian delegation and Chinese authorities.", ["RUS", "CHN"]),
])
def test_demonyms_only_before_state_nouns(tagger, text, expected):
    assert countries(tagger, text) == expected


@pytest.mark.parametrize("text, lang, expected", [
    ("La Corée, le Royaume-Uni et le Mexique ont signé.", "fr", ["KOR", "GBR", "MEX"]),
    ("México, Corea y el Reino Unido firmaron.", "es", ["MEX", "KOR", "GBR"]),
    ("L'Allemagne et les États-Unis.", "fr", ["DEU", "USA"]),
])
def test_french_and_spanish(tagger, text, lang, expected):
    assert countries(tagger, text, lang) == expected


def test_orgs_acronyms_case_sensitive_names_not(tagger):
    got = found(tagger, "UNESCAP, ESCAP, the ECONOMIC COMMISSION FOR AFRICA and Cepal.", type_="org")
    assert [g[1] for g in got] == ["unescap", "unescap", "uneca"]  # 'Cepal' is not the acronym
    assert found(tagger, "who knows", type_="org") == []  # 'WHO' only in capitals


def test_longest_name_wins_over_contained_names(tagger):
    got = found(tagger, "The Asian Development Bank, the African Union and the Korea Advanced Institute "
                        "of Science and Technology.")
    assert [(t, i) for t, i, _ in got] == [("org", "adb"), ("org", "au"), ("org", "kaist")]


def test_regions(tagger):
    got = found(tagger, "Latin America, the Asia-Pacific region, Western Asia, Sub-Saharan Africa and "
                        "South Africa.")
    assert [(t, i) for t, i, _ in got] == [
        ("region", "latin-america-caribbean"), ("region", "asia-pacific"), ("region", "western-asia"),
        ("region", "sub-saharan-africa"), ("country", "ZAF")]


def test_people_merge_in_one_document(tagger):
    text = ("Vincenzo Aquaro (DPADM) opened the session. Later Mr. Aquaro presented the survey. "
            "Ms. Haiyan Qian (Director of UNDESA) spoke; Ms. Qian then left.")
    mentions = tagger.tag(text)
    ids = [m.id for m in mentions if m.type == "person"]
    assert ids == ["vincenzo-aquaro", "vincenzo-aquaro", "haiyan-qian", "haiyan-qian"]
    people = {p["id"]: p for p in tagger.people_of(mentions)}
    assert people["vincenzo-aquaro"]["affiliations"] == ["dpadm"]
    assert people["haiyan-qian"]["affiliations"] == ["undesa"]
    assert people["haiyan-qian"]["titles"] == ["Director"]


def test_two_people_same_surname_stay_apart(tagger):
    text = "Professor SungHee Kim, Dean of KAIST, met Ms. Yu Jung Kim (DPADM)."
    people = {p["id"]: p for p in tagger.people_of(tagger.tag(text))}
    assert people["sunghee-kim"]["affiliations"] == ["kaist"]
    assert people["yu-jung-kim"]["affiliations"] == ["dpadm"]


def test_long_text_is_chunked_with_right_offsets(tagger, monkeypatch):
    import indexer.tag as tag_mod

    text = ("Kazakhstan presented its e-Notary. " * 50 + "\n\n") * 40
    monkeypatch.setattr(tag_mod, "CHUNK_CHARS", 5000)
    small = Tagger(model="")
    mentions = small.tag(text)
    assert len([m for m in mentions if m.id == "KAZ"]) == 2000
    assert all(text[m.start:m.end] == m.text for m in mentions)
