"""Organisation and topic names in the six UN languages (kb/data/names_un6.yaml): every
record has them or says why not, and a name in any language resolves to its record."""
from __future__ import annotations

import re

import pytest
import yaml

from kb.entities import load_registry
from kb.entities.morph import ar_key, ru_key
from kb.entities.multilingual import OTHER_LANGS
from kb.entities.registry import DATA, LANGS

NAMES = yaml.safe_load((DATA / "names_un6.yaml").read_text(encoding="utf-8"))
SCRIPTS = {"ru": re.compile(r"[\u0400-\u04ff]"), "ar": re.compile(r"[\u0600-\u06ff]"),
           "zh": re.compile(r"[\u4e00-\u9fff]")}


@pytest.fixture(scope="module")
def reg():
    return load_registry()


@pytest.mark.parametrize("type_", ["org", "topic"])
def test_every_record_has_six_names_or_says_why_not(reg, type_):
    why = NAMES.get("untranslated") or {}
    missing = []
    for rec in reg.all(type_):
        if rec["id"] in why:
            assert len(why[rec["id"]].split()) >= 4, f"{rec['id']}: the reason must say why"
            continue
        lacking = [lang for lang in LANGS if not rec["names"].get(lang)]
        if lacking:
            missing.append(f"{rec['id']}: {', '.join(lacking)}")
    assert not missing, "records without names in every UN language: " + "; ".join(missing)


def test_names_file_only_names_known_records_in_their_own_script(reg):
    section = {"organisations": "org", "topics": "topic"}
    for key, type_ in section.items():
        for ent_id, by_lang in NAMES[key].items():
            assert reg.get(type_, ent_id), f"{key}: unknown id {ent_id}"
            assert set(by_lang) == set(OTHER_LANGS), f"{ent_id}: languages {sorted(by_lang)}"
            for lang, script in SCRIPTS.items():
                assert all(script.search(f) for f in by_lang[lang]), f"{ent_id}/{lang}: {by_lang[lang]}"
    for ent_id in NAMES["untranslated"]:
        assert reg.get("org", ent_id) or reg.get("topic", ent_id), f"untranslated: unknown id {ent_id}"


@pytest.mark.parametrize("query, expected", [
    ("Banque mondiale", ("org", "world-bank")), ("Banco Mundial", ("org", "world-bank")),
    ("Всемирный банк", ("org", "world-bank")), ("世界银行", ("org", "world-bank")),
    ("البنك الدولي", ("org", "world-bank")),
    ("PNUD", ("org", "undp")), ("ПРООН", ("org", "undp")), ("联合国开发计划署", ("org", "undp")),
    ("Programme des Nations Unies pour le développement", ("org", "undp")),
    ("ФАО", ("org", "fao")), ("粮农组织", ("org", "fao")), ("Organización Mundial de la Salud", ("org", "who")),
    ("Organizacion Mundial de la Salud", ("org", "who")),  # accents dropped
    ("Union africaine", ("org", "au")), ("Африканский союз", ("org", "au")), ("东盟", ("org", "asean")),
    ("ОЭСР", ("org", "oecd")), ("الاتحاد الأوروبي", ("org", "eu")),
    ("кибербезопасность", ("topic", "cybersecurity")), ("网络安全", ("topic", "cybersecurity")),
    ("الأمن السيبراني", ("topic", "cybersecurity")), ("электронные закупки", ("topic", "e-procurement")),
    ("数字鸿沟", ("topic", "digital-divide")), ("brecha digital", ("topic", "digital-divide")),
    # inflected and prefixed forms resolve like the tagger matches them
    ("Всемирного банка", ("org", "world-bank")), ("кибербезопасности", ("topic", "cybersecurity")),
    ("والبنك الدولي", ("org", "world-bank")), ("للأمم المتحدة", ("org", "un")),
])
def test_a_name_in_any_un_language_resolves(reg, query, expected):
    assert expected in reg.resolve(query)


def test_acronyms_in_other_languages_do_not_steal_english_ones(reg):
    # CEPA is the Committee of Experts on Public Administration in English texts;
    # CEE is the European Economic Community in French ones: neither is an ECE / ECA acronym
    assert reg.resolve("CEPA") == [("org", "cepa")]
    assert reg.resolve("CEE") == []
    assert reg.resolve("WHO") == [("org", "who")]


@pytest.mark.parametrize("a, b", [("Всемирный", "Всемирного"), ("банк", "банка"), ("Казахстан", "Казахстане"),
                                  ("Организация", "Организации"), ("данные", "данных")])
def test_russian_forms_share_a_key(a, b):
    assert ru_key(a) == ru_key(b)


@pytest.mark.parametrize("a, b", [("البنك", "والبنك"), ("الأمم", "للأمم"), ("البيانات", "والبيانات"),
                                  ("الأمم", "بالامم")])
def test_arabic_forms_share_a_key(a, b):
    assert ar_key(a) == ar_key(b)


def test_distinct_russian_words_keep_distinct_keys():
    assert ru_key("банк") != ru_key("бак")
    assert ru_key("ООН") == "оон"  # short words are left alone


def test_the_words_of_a_name_go_together_in_an_or_query(reg):
    """A name read as a natural-language query (five words and more: OR) keeps its words
    together beside the tag, so "de" and "la" do not rank passages on their own."""
    from kb import settings as settings_mod
    from kb.search import language
    from kb.search import querytree as qt

    q = "Organisation mondiale de la Santé"
    assert language.choose_mode(q) == "or"
    root = language.parse(q, "or", reg.resolve, settings_mod.load({})).root
    groups = [n for n in _walk(root) if isinstance(n, qt.Or) and qt.Entity("org", "who") in n.children]
    assert len(groups) == 1
    words = [c for c in groups[0].children if not isinstance(c, qt.Entity)]
    assert isinstance(words[0], qt.And) and len(words[0].children) == 5


def _walk(node):
    yield node
    for child in getattr(node, "children", ()):
        yield from _walk(child)


def test_a_long_official_name_resolves_whole_in_a_query(reg):
    from kb import settings as settings_mod
    from kb.search import language
    from kb.search import querytree as qt

    root = language.parse("Programme des Nations Unies pour le développement", "or", reg.resolve,
                          settings_mod.load({})).root
    assert qt.Entity("org", "undp") in list(_walk(root))
    assert qt.Entity("org", "un") not in list(_walk(root))  # not the UN inside the name
