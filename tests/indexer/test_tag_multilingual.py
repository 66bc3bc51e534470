"""Organisations and topics tagged by their names in each of the six UN languages, and a
query in one language finding passages tagged from another (ingest + search, real files)."""
from __future__ import annotations

import pytest

from indexer.library import ingest
from indexer.tag import Tagger
from kb.facade import KB
from kb.search.types import SearchRequest

# One short passage per language, as a forum paper or a General Debate statement writes it:
# inflected (Russian), with prefixed conjunctions and prepositions (Arabic), unsegmented (Chinese).
PASSAGES = {
    "en": ("The World Bank and the United Nations Development Programme support open data and "
           "cybersecurity in Kazakhstan, with the help of the Food and Agriculture Organization."),
    "fr": ("La Banque mondiale et le Programme des Nations Unies pour le développement (PNUD) "
           "soutiennent les données ouvertes et la cybersécurité au Kazakhstan ; l'Union africaine observe."),
    "es": ("El Banco Mundial y el PNUD apoyan los datos abiertos y la ciberseguridad en Kazajstán, "
           "junto con la Organización para la Cooperación y el Desarrollo Económicos."),
    "ru": ("Эксперты Всемирного банка и ПРООН поддерживают открытые данные и кибербезопасность "
           "в Казахстане при участии Организации экономического сотрудничества и развития."),
    "ar": ("يدعم البنك الدولي وبرنامج الأمم المتحدة الإنمائي البيانات المفتوحة والأمن السيبراني "
           "في كازاخستان بالتعاون مع الاتحاد الأفريقي."),
    "zh": "世界银行和联合国开发计划署支持哈萨克斯坦的开放数据和网络安全，经合组织也参与其中。",
}
EVERY_LANGUAGE = {("org", "world-bank"), ("org", "undp"), ("topic", "open-data"),
                  ("topic", "cybersecurity"), ("country", "KAZ")}
EXTRA = {"en": ("org", "fao"), "fr": ("org", "au"), "es": ("org", "oecd"), "ru": ("org", "oecd"),
         "ar": ("org", "au"), "zh": ("org", "oecd")}


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(model="")


@pytest.mark.parametrize("lang", sorted(PASSAGES))
def test_a_passage_in_each_language_gets_its_organisations_and_topics(tagger, lang):
    found = {(m.type, m.id) for m in tagger.tag(PASSAGES[lang], lang)}
    assert EVERY_LANGUAGE | {EXTRA[lang]} <= found, f"{lang}: missing {EVERY_LANGUAGE | {EXTRA[lang]} - found}"


def test_names_of_one_language_are_not_tagged_in_unrelated_text(tagger):
    # a French acronym is not matched in lower case, a Russian stem only as a whole word
    assert not [m for m in tagger.tag("The pnud and banks of the river.", "en") if m.type == "org"]
    assert not [m for m in tagger.tag("Банкет состоялся вечером.", "ru") if m.type == "org"]


@pytest.fixture(scope="module")
def six_language_kb(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    folder = tmp_path_factory.mktemp("in")
    for lang, text in PASSAGES.items():
        (folder / f"statement-{lang}.txt").write_text(text + "\n", encoding="utf-8")
    with KB({"home": str(home)}) as kb:
        summary = ingest([folder], kb, workers=1)
        assert summary["added"] == len(PASSAGES)
        yield kb


@pytest.mark.parametrize("query, entity", [
    ("Banque mondiale", "world-bank"), ("Banco Mundial", "world-bank"), ("Всемирный банк", "world-bank"),
    ("世界银行", "world-bank"), ("البنك الدولي", "world-bank"), ("World Bank", "world-bank"),
    ("ПРООН", "undp"), ("联合国开发计划署", "undp"), ("PNUD", "undp"),
    ("кибербезопасность", "cybersecurity"), ("网络安全", "cybersecurity"), ("الأمن السيبراني", "cybersecurity"),
    ("datos abiertos", "open-data"), ("открытые данные", "open-data"),
])
def test_a_query_in_one_language_finds_passages_tagged_in_every_other(six_language_kb, query, entity):
    res = six_language_kb.search(SearchRequest(q=query, per_page=20, max_per_document=0))
    docs = {h.path.rsplit("statement-", 1)[-1].split(".")[0] for h in res.hits}
    assert docs == set(PASSAGES), f"{query!r} found {sorted(docs)}"
