"""Query semantics of the Whoosh passage index on small synthetic passages."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from kb import settings as settings_mod
from kb.errors import InvalidInputError, InvalidQueryError
from kb.search.types import PassageRecord, SearchRequest
from tests.kb.search.searchkit import open_index
from tests.records import record_of

ENTITIES = {
    "korea": [("country", "KOR")], "republic of korea": [("country", "KOR")],
    "undesa": [("org", "undesa")], "open data": [("topic", "open-data")], "who": [("org", "who")],
}


def resolver(phrase: str) -> list[tuple[str, str]]:
    return ENTITIES.get(phrase.lower(), [])


def rec(pid: str, text: str, **kw) -> PassageRecord:
    doc_id = pid.rpartition("-")[0]
    return record_of(pid, text, **{"title": f"Report {doc_id}", "path": f"corpus/{doc_id}.pdf", "format": "pdf",
                                   "year": 2012, "page_start": 1, "page_end": 1, **kw})


RECORDS = [
    rec("a-0", "Seoul presented its e-government master plan and the national portal.", country=["KOR"], year=2010),
    rec("a-1", "The knowledge base of CIO profiles was presented by Jane Doe of UNDESA.", org=["undesa"],
        person=["jane-doe"], year=2010),
    rec("b-0", "Open government data portals publish datasets for citizens.", topic=["open-data"], country=["FRA"],
        year=2012, format="pptx"),
    rec("b-1", "Le communiqué officiel du gouvernement électronique.", lang="fr", country=["FRA"], year=2012,
        format="pptx"),
    rec("c-0", "Broadband access and the digital divide in rural areas.", year=2014, country=["KEN"], format="docx",
        heading_path=["Digital divide"]),
    rec("c-1", "Mobile government services reach rural citizens by SMS.", year=2014, country=["KEN"], format="docx"),
    rec("d-0", "Cybersecurity and privacy laws protect citizens online <script>alert(1)</script>.", year=2016,
        title="Cybersecurity strategy"),
    rec("e-0", "电子政务 发展 报告 东京都", lang="zh", year=2016),
    rec("f-0", "Электронное правительство России развивается", lang="ru", year=2016),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("home")
    ix = open_index(Path(home) / "index", settings_mod.load({"home": str(home)}), resolver=resolver)
    ix.index_passages(RECORDS)
    yield ix
    ix.close()


def ids(ix, q: str, **kw) -> list[str]:
    kw.setdefault("max_per_document", 0)
    return [h.passage_id for h in ix.search(SearchRequest(q=q, per_page=50, **kw)).hits]


def test_words_are_and_by_default(index):
    assert ids(index, "rural citizens") == ["c-1"] or set(ids(index, "rural citizens")) >= {"c-1"}
    r = index.search(SearchRequest(q="mobile SMS"))
    assert [h.passage_id for h in r.hits] == ["c-1"]


def test_and_falls_back_to_or_when_too_few(index):
    # No passage has both words: the plain query is retried with OR.
    got = ids(index, "broadband cybersecurity")
    assert set(got) == {"c-0", "d-0"}


def test_phrase_and_stemming(index):
    assert ids(index, '"digital divide"') == ["c-0"]
    assert "b-0" in ids(index, "publishing dataset")  # stems: publish, dataset
    assert ids(index, '"divide digital"') == []
    assert ids(index, '"open government data portals"') == ["b-0"]  # positions checked word by word
    assert ids(index, '"open data government"') == []
    assert ids(index, '"the digital divide"') == ["c-0"]  # stop words are dropped from phrases


def test_operators(index):
    assert set(ids(index, "citizens OR broadband")) == {"b-0", "c-0", "c-1", "d-0"}
    assert set(ids(index, "citizens NOT rural")) == {"b-0", "d-0"}
    assert set(ids(index, "citizens -rural")) == {"b-0", "d-0"}
    assert set(ids(index, "(mobile OR broadband) AND rural")) == {"c-0", "c-1"}
    everything_but = set(ids(index, "-citizens"))
    assert everything_but == {r.id for r in RECORDS} - {"b-0", "c-1", "d-0"}


def test_field_values(index):
    assert set(ids(index, "country:KOR")) == {"a-0"}
    assert set(ids(index, "country:kor")) == {"a-0"}  # case-insensitive ids
    assert set(ids(index, "org:undesa")) == {"a-1"}
    assert set(ids(index, "topic:open-data")) == {"b-0"}
    assert set(ids(index, "person:jane-doe")) == {"a-1"}
    assert set(ids(index, "type:pptx")) == {"b-0", "b-1"}
    assert set(ids(index, "lang:fr")) == {"b-1"}
    assert set(ids(index, "year:2014")) == {"c-0", "c-1"}
    assert set(ids(index, "year:[2010 TO 2012]")) == {"a-0", "a-1", "b-0", "b-1"}
    assert set(ids(index, "title:cybersecurity")) == {"d-0"}
    assert set(ids(index, "citizens country:KEN")) == {"c-1"}


def test_fuzzy_and_prefix(index):
    assert "b-0" in ids(index, "goverment~")
    assert set(ids(index, "broad*")) == {"c-0"}
    assert ids(index, "cybr*") == []


def test_wildcard_expansion_is_bounded(tmp_path):
    ix = open_index(tmp_path / "ix", settings_mod.load({"home": str(tmp_path), "max_wildcard_terms": 10}))
    ix.index_passages([rec(f"w-{i}", f"word{i:03d} filler") for i in range(30)])
    with pytest.raises(InvalidQueryError, match="more than 10"):
        ix.search(SearchRequest(q="word*"))
    assert ix.search(SearchRequest(q="word00*")).total == 10
    ix.close()


def test_query_length_bounded(tmp_path):
    ix = open_index(tmp_path / "ix", settings_mod.load({"home": str(tmp_path), "max_query_length": 20}))
    with pytest.raises(InvalidQueryError):
        ix.search(SearchRequest(q="x" * 21))
    ix.close()


def test_accent_folding_and_languages(index):
    assert ids(index, "communique") == ["b-1"]
    assert ids(index, "gouvernement") == ["b-1"]  # French stemmer: électronique / gouvernement
    assert ids(index, "东京") == ["e-0"]  # CJK bigrams
    assert ids(index, "правительства") == ["f-0"]  # Russian stemming


def test_entity_names_match_tagged_passages(index):
    # "Korea" is not in a-0's text (it says Seoul) but a-0 is tagged KOR.
    assert "a-0" in ids(index, "Korea")
    assert "a-0" in ids(index, "Republic of Korea")
    assert "a-1" in ids(index, "UNDESA")
    assert "b-0" in ids(index, "open data")


def test_natural_language_question(index):
    got = ids(index, "who presented the knowledge base of CIO profiles?")
    assert got[0] == "a-1"


@pytest.mark.parametrize("q", ["AND", '"unclosed', "((", "country:", "OR OR", "NOT", ")", "title:", '"', "*"])
def test_malformed_queries_never_crash(index, q):
    try:
        r = index.search(SearchRequest(q=q))
    except InvalidQueryError:
        return
    assert r.total >= 0


def test_bad_numbers_are_invalid_queries(index):
    with pytest.raises(InvalidQueryError):
        index.search(SearchRequest(q="year:abc"))


def test_snippet_escapes_everything_but_mark(index):
    hit = index.search(SearchRequest(q="privacy")).hits[0]
    assert "<script>" not in hit.snippet and "&lt;script&gt;" in hit.snippet
    assert "<mark>privacy</mark>" in hit.snippet
    stripped = hit.snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped


def test_snippet_marks_stemmed_and_accented_forms(index):
    assert "<mark>communiqué</mark>" in index.search(SearchRequest(q="communique")).hits[0].snippet
    assert "<mark>presented</mark>" in index.search(SearchRequest(q="presenting Seoul")).hits[0].snippet


def test_hit_fields(index):
    hit = index.search(SearchRequest(q="knowledge base")).hits[0]
    assert (hit.passage_id, hit.doc_id, hit.ordinal, hit.format, hit.year) == ("a-1", "a", 1, "pdf", 2010)
    assert hit.entities == {"org": ["undesa"], "person": ["jane-doe"]}
    assert hit.path == "corpus/a.pdf" and hit.page_start == 1


def test_suggestion(index):
    r = index.search(SearchRequest(q="goverment", correct=False))
    assert r.total == 0 and r.suggestion == "government" and r.corrected_query is None
    # "goverment portals" already shows the two passages "government portals" would
    # (the misspelt word falls away in the OR retry): no did-you-mean that changes nothing
    r = index.search(SearchRequest(q="goverment portals", correct=False))
    assert [h.passage_id for h in r.hits] == ["a-0", "b-0"] and r.suggestion is None
    assert index.suggest("citizens") is None


def test_unknown_words_are_corrected(index):
    r = index.search(SearchRequest(q="goverment portals"))
    assert r.corrected_query == r.suggestion == "government portals"
    assert {"a-0", "b-0"} <= {h.passage_id for h in r.hits}
    assert r.to_dict()["corrected_query"] == "government portals"
    # Known words, entity names, short acronyms and words with digits are left alone.
    for q in ("government portals", "Korea", "UNDSA portals", "portals 2O12", "portal xyz",
              "governmentt" + "x" * 30):
        assert index.search(SearchRequest(q=q)).corrected_query is None, q
    # Question punctuation does not hide a misspelt word; operators switch correction off.
    assert index.search(SearchRequest(q="what about cybersecurty?")).corrected_query == "what about cybersecurity"
    assert index.search(SearchRequest(q="goverment OR portals")).corrected_query is None


def test_corrected_results_differ_from_uncorrected(index):
    on = index.search(SearchRequest(q="broadbnd"))
    off = index.search(SearchRequest(q="broadbnd", correct=False))
    assert [h.passage_id for h in on.hits] == ["c-0"] and off.total == 0


def test_more_like(index):
    like = [h.passage_id for h in index.more_like("c-1", 5)]
    assert "c-1" not in like
    assert like and like[0] in {"c-0", "b-0"}


def test_sorts(index):
    by_date = [h.year for h in index.search(SearchRequest(q="", sort="date", per_page=50, max_per_document=0)).hits]
    assert by_date == sorted(by_date, reverse=True)
    titles = [h.title.casefold() for h in index.search(SearchRequest(q="", sort="title", per_page=50, max_per_document=0)).hits]
    assert titles == sorted(titles)
    with pytest.raises(InvalidInputError):
        index.search(SearchRequest(q="x", sort="random"))


def test_paging_cursor_and_per_document_cap(tmp_path):
    ix = open_index(tmp_path / "ix", settings_mod.load({"home": str(tmp_path)}))
    rng = random.Random(7)
    recs = [rec(f"p{d}-{i}", "budget " * rng.randint(1, 5) + f"item {d} {i}") for d in range(6) for i in range(8)]
    ix.index_passages(recs)
    seen, cursor, pages = [], None, 0
    while True:
        r = ix.search(SearchRequest(q="budget", per_page=5, cursor=cursor, max_per_document=2))
        assert r.total == 48
        seen += [h.passage_id for h in r.hits]
        pages += 1
        cursor = r.next_cursor
        if not cursor:
            break
    # The cap groups, never drops: every passage exactly once, the first 12 are each
    # document's best two (2 per document), the rest follow on later pages.
    assert len(seen) == len(set(seen)) == 48
    assert pages == 10
    first = [p.split("-")[0] for p in seen[:12]]
    assert sorted(first) == sorted(f"p{d}" for d in range(6) for _ in range(2))
    by_page = [ix.search(SearchRequest(q="budget", per_page=7, page=n, max_per_document=2)).hits
               for n in range(1, 9)]
    assert [h.passage_id for hits in by_page for h in hits] == seen
    one_doc = ix.search(SearchRequest(q="budget", doc_id="p3", per_page=50, max_per_document=2))
    assert len(one_doc.hits) == 8  # the cap does not apply within one document
    with pytest.raises(InvalidInputError):
        ix.search(SearchRequest(q="other", cursor=r.next_cursor or "bm90IGEgY3Vyc29y"))
    ix.close()
