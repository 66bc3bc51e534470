"""The backend contract: what every search backend must do behind the search service.

Parametrised by backend (tests/kb/search/searchkit.BACKENDS): a second backend passes
this file, unchanged, to be a backend. Each test builds its own small index of generated
passages and compares the service's answers with brute force over the same records.
"""
from __future__ import annotations

import html
import random
import re

import pytest

from kb import settings as settings_mod
from kb.errors import InvalidInputError, InvalidQueryError
from kb.search.service import SearchService
from kb.search.types import FACET_FIELDS, PassageRecord, SearchRequest
from tests.kb.search.searchkit import BACKENDS, open_index
from tests.records import passage_record

WORDS = ("budget", "cloud", "data", "digital", "open", "portal", "rural", "citizens", "broadband",
         "mobile", "identity", "services", "agency", "records", "archive")
COUNTRIES = ("KOR", "JPN", "KAZ", "BRA", "FRA")
TOPICS = ("open-data", "broadband", "e-participation")


rec = passage_record


def corpus(n_docs: int = 30, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for d in range(n_docs):
        doc = f"d{d:02d}"
        for i in range(rng.randint(1, 6)):
            words = rng.sample(WORDS, rng.randint(3, 7))
            out.append(rec(doc, i, " ".join(words).capitalize() + ".", year=2010 + d % 7,
                           date=f"{2010 + d % 7}-0{1 + d % 9}-15",
                           country=rng.sample(COUNTRIES, rng.randint(0, 2)),
                           topic=rng.sample(TOPICS, rng.randint(0, 1)),
                           format="pdf" if d % 3 else "txt", lang="en"))
    return out


@pytest.fixture(params=BACKENDS)
def make(request, tmp_path):
    opened = []

    def build(records: list[dict], **settings):
        home = tmp_path / f"home{len(opened)}"
        ix = open_index(home / "index", settings_mod.load({"home": str(home), "search_cache_size": 0, **settings}),
                        backend=request.param)
        ix.index_passages(records)
        opened.append(ix)
        return ix

    yield build
    for ix in opened:
        ix.close()


def has_all(r: PassageRecord, words: list[str]) -> bool:
    toks = set(re.findall(r"\w+", (r.text + " " + r.title).lower()))
    return all(w in toks for w in words)


def every(ix, q: str = "", **kw) -> list[str]:
    req = SearchRequest(q=q, per_page=100, max_per_document=0, facets=False, **kw)
    return [h.passage_id for h in ix.iter_all(req)]


# -- query semantics ---------------------------------------------------------------------
def test_words_and_or_not_match_brute_force(make):
    recs = corpus()
    ix = make(recs)
    for a, b in (("cloud", "rural"), ("digital", "archive"), ("budget", "mobile")):
        assert set(every(ix, f"{a} {b}")) == {r.id for r in recs if has_all(r, [a, b])} or \
            len({r.id for r in recs if has_all(r, [a, b])}) < 3  # AND, unless it fell back to OR
        assert set(every(ix, f"{a} OR {b}")) == {r.id for r in recs if has_all(r, [a]) or has_all(r, [b])}
        assert set(every(ix, f"{a} NOT {b}")) == {r.id for r in recs if has_all(r, [a]) and not has_all(r, [b])}
        assert set(every(ix, f"{a} -{b}")) == {r.id for r in recs if has_all(r, [a]) and not has_all(r, [b])}
    assert set(every(ix, "-cloud")) == {r.id for r in recs if not has_all(r, ["cloud"])}
    assert set(every(ix, "(cloud OR rural) AND budget")) == {
        r.id for r in recs if (has_all(r, ["cloud"]) or has_all(r, ["rural"])) and has_all(r, ["budget"])}


def test_phrase_prefix_fuzzy_fields_and_ranges(make):
    recs = [rec("a", 0, "The digital divide is closing.", year=2011), rec("b", 0, "Divide the digital budget.", year=2011),
            rec("c", 0, "Broadband reaches rural areas.", year=2012),
            rec("d", 0, "Broadcasting rules.", year=2015, title="Cybersecurity plan"),
            rec("e", 0, "Governments publish data.", year=2018, country=["KOR"])]
    ix = make(recs)
    assert every(ix, '"digital divide"') == ["a-0"]
    assert set(every(ix, "broad*")) == {"c-0", "d-0"}
    assert every(ix, "goverments~") == ["e-0"]
    assert every(ix, "title:cybersecurity") == ["d-0"]
    assert every(ix, "country:kor") == ["e-0"]  # entity ids are case-insensitive
    assert set(every(ix, "year:[2012 TO 2015]")) == {"c-0", "d-0"}
    assert set(every(ix, "year:>=2015")) == {"d-0", "e-0"}


def test_entity_names_resolve_to_tags(make):
    recs = [rec("a", 0, "Seoul opened its data portal.", country=["KOR"]), rec("b", 0, "Tokyo portal.")]
    ix = make(recs)
    names = {"korea": [("country", "KOR")]}
    svc = SearchService(ix.backend, ix.settings, lambda p: names.get(p.lower(), []))
    assert [h.passage_id for h in svc.search(SearchRequest(q="Korea", facets=False)).hits] == ["a-0"]
    assert svc.search(SearchRequest(q="Korea", facets=False, correct=False)).total == 1


def test_entity_matches_rank_by_salience_and_text_still_counts(make):
    """PassageRecord salience (kb.search.types): an entity query ranks the passages tagged
    with the entity by their points; other query words add their text relevance."""
    recs = [rec("mhl", 0, "The Marshall Islands thank Kazakhstan.", country=["MHL", "KAZ"],
                salience={"country": {"MHL": 9, "KAZ": 1}}),
            rec("kaz", 0, "Our country builds digital services.", country=["KAZ"], salience={"country": {"KAZ": 9}}),
            rec("kaz", 1, "Kazakhstan and its e-procurement portal.", country=["KAZ"], salience={"country": {"KAZ": 5}}),
            rec("old", 0, "Kazakhstan.", country=["KAZ"]),  # no points: counts one
            rec("jpn", 0, "Procurement portal in Tokyo.", country=["JPN"], salience={"country": {"JPN": 3}})]
    ix = make(recs)
    names = {"kazakhstan": [("country", "KAZ")], "kazajstán": [("country", "KAZ")]}
    svc = SearchService(ix.backend, ix.settings, lambda p: names.get(p.lower(), []))
    order = [h.passage_id for h in svc.search(SearchRequest(q="Kazajstán", facets=False, max_per_document=0)).hits]
    assert order[:2] == ["kaz-0", "kaz-1"] and set(order[2:]) == {"mhl-0", "old-0"}
    scores = {h.passage_id: h.score for h in svc.search(SearchRequest(q="country:KAZ", facets=False, max_per_document=0)).hits}
    assert scores["kaz-0"] > scores["kaz-1"] > scores["mhl-0"] == pytest.approx(scores["old-0"])
    # the rest of the query is text relevance: the passage about e-procurement wins
    hits = svc.search(SearchRequest(q="Kazajstán portal", facets=False, max_per_document=0)).hits
    assert hits[0].passage_id == "kaz-1"


def test_bad_queries_and_requests_are_clear_errors(make):
    many = " ".join(f"exa{c}ple" for c in "bcdefghijklmn")  # 12 words starting "exa"
    ix = make(corpus(5) + [rec("w", 0, many)], max_query_length=50, max_wildcard_terms=10)
    with pytest.raises(InvalidQueryError):
        ix.search(SearchRequest(q="x" * 51))
    with pytest.raises(InvalidQueryError):
        ix.search(SearchRequest(q="exa*"))
    with pytest.raises(InvalidInputError):
        ix.search(SearchRequest(q="cloud", sort="random"))
    with pytest.raises(InvalidInputError):
        ix.search(SearchRequest(q="cloud", per_page=0))
    with pytest.raises(InvalidQueryError):
        ix.search(SearchRequest(q="cloud", filters={"colour": ["red"]}))


# -- facets, filters ----------------------------------------------------------------------
def test_facet_counts_are_exact(make):
    recs = corpus(40, seed=3)
    ix = make(recs)
    for q, filters in (("", {}), ("cloud", {}), ("data OR portal", {"country": ["KOR", "JPN"]}),
                       ("", {"topic": ["open-data"], "year": ["2012"]})):
        res = ix.search(SearchRequest(q=q, filters=filters, facet_limit=0, max_per_document=0))
        matched = [r for r in recs if r.id in set(every(ix, q, filters=filters))]
        assert res.total == len(matched)
        for facet in FACET_FIELDS:
            counts: dict[str, int] = {}
            for r in matched:
                value = getattr(r, "format" if facet == "type" else facet)
                values = [str(value)] if facet in ("type", "year", "lang") else value
                for v in values or []:
                    counts[str(v)] = counts.get(str(v), 0) + 1
            assert dict(res.facets[facet]) == counts, (q, filters, facet)


# -- paging, sorting ----------------------------------------------------------------------
@pytest.mark.parametrize("per_page", [1, 7, 20])
def test_cursor_paging_reaches_every_hit_once(make, per_page):
    recs = corpus(25, seed=11)
    ix = make(recs)
    for q in ("", "cloud OR data", "digital"):
        first = ix.search(SearchRequest(q=q, per_page=per_page, max_per_document=0, facets=False))
        seen, res = [h.passage_id for h in first.hits], first
        while res.next_cursor:
            res = ix.search(SearchRequest(q=q, per_page=per_page, max_per_document=0, facets=False,
                                          cursor=res.next_cursor))
            seen += [h.passage_id for h in res.hits]
        assert len(seen) == len(set(seen)) == first.total
        assert seen == every(ix, q)  # the same order as an export
    with pytest.raises(InvalidInputError):
        ix.search(SearchRequest(q="other", cursor=first.next_cursor or "eyJvIjoxLCJoIjoieCJ9"))


def test_sort_orders(make):
    recs = corpus(20, seed=5)
    ix = make(recs)
    by_id = {r.id: r for r in recs}
    dates = [by_id[p].date for p in every(ix, "", sort="date")]
    assert dates == sorted(dates, reverse=True)
    titles = [by_id[p].title.casefold() for p in every(ix, "", sort="title")]
    assert titles == sorted(titles)
    scores = [h.score for h in ix.iter_all(SearchRequest(q="cloud OR data", max_per_document=0))]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0


def test_per_document_cap_groups_and_loses_nothing(make):
    recs = [rec("big", i, f"Cloud cloud services part {i}.") for i in range(6)] + [rec("small", 0, "Cloud budget.")]
    ix = make(recs)
    res = ix.search(SearchRequest(q="cloud", max_per_document=3, facets=False))
    docs = [h.doc_id for h in res.hits]
    assert res.total == 7 and len(docs) == 7
    assert docs.index("small") < 4 and docs[4:] == ["big"] * 3  # big's 4th-6th passages come last
    paged, cursor = [], None
    while True:
        page = ix.search(SearchRequest(q="cloud", max_per_document=3, per_page=2, facets=False, cursor=cursor))
        paged += [h.passage_id for h in page.hits]
        # pages settled by reading further in the order still carry whole hits and snippets
        assert all("<mark>" in h.snippet and h.text for h in page.hits)
        cursor = page.next_cursor
        if not cursor:
            break
    assert paged == [h.passage_id for h in res.hits]


# -- highlights, more like this, spelling ------------------------------------------------------
def test_highlights_mark_matches_and_escape_everything_else(make):
    recs = [rec("x", 0, 'Budget <script>alert("x")</script> & cloud budgets.')]
    ix = make(recs)
    hit = ix.search(SearchRequest(q="budget")).hits[0]
    assert "<mark>" in hit.snippet
    stripped = hit.snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped
    assert html.unescape(stripped).replace("…", "").strip() in recs[0].text


def test_more_like_this(make):
    recs = [rec("a", 0, "Broadband subsidies for rural schools and rural clinics."),
            rec("b", 0, "Rural broadband subsidies reached schools."),
            rec("c", 0, "Procurement rules for software licences.")]
    ix = make(recs)
    like = [h.passage_id for h in ix.more_like("a-0", limit=5)]
    assert like and like[0] == "b-0" and "a-0" not in like


def test_spelling_correction_and_did_you_mean(make):
    recs = [rec(f"g{i}", 0, f"The government budget for year {i}.") for i in range(5)]
    ix = make(recs)
    res = ix.search(SearchRequest(q="goverment budget"))
    assert res.corrected_query == "government budget" and res.total == 5
    res = ix.search(SearchRequest(q="goverment", correct=False))
    assert res.total == 0 and res.corrected_query is None and res.suggestion == "government"
    assert ix.suggest("budgett") == "budget"


# -- writes ---------------------------------------------------------------------------------
def test_writes_are_all_or_nothing(make):
    ix = make([rec("a", 0, "alpha one"), rec("b", 0, "beta")])
    before = every(ix)
    def bad():  # a source of records that fails after the first (a catalog read breaking)
        yield rec("a", 0, "alpha replaced")
        raise OSError("the catalog went away")

    with pytest.raises(OSError, match="went away"):
        ix.update_documents(["b"], bad())
    assert every(ix) == before and ix.doc_ids() == {"a": 1, "b": 1}
    ix.update_documents(["b"], [rec("a", 0, "alpha replaced"), rec("a", 1, "alpha two")])
    assert ix.doc_ids() == {"a": 2}
    assert every(ix, "replaced") == ["a-0"]


def test_rebuild_swaps_in_a_new_build(make):
    ix = make([rec("a", 0, "alpha")])
    build = ix.build_id()
    ix.rebuild(iter([rec("z", 0, "zeta"), rec("z", 1, "zeta two")]))
    assert ix.build_id() != build
    assert ix.doc_ids() == {"z": 2} and every(ix, "alpha") == [] and not ix.needs_rebuild()


# -- time budget ----------------------------------------------------------------------------
def test_an_exhausted_budget_truncates_never_errs(make):
    recs = corpus(10)
    ix = make(recs)
    ix.settings["query_time_budget"] = 0.0  # below the setting's floor: only a test may do this
    res = ix.search(SearchRequest(q="cloud data portal budget", facets=False))
    assert res.truncated and res.total == 0  # nothing read in time: no result, no error
    # A search with nothing to read but a filter is never cut short.
    res = ix.search(SearchRequest(q="", filters={"type": ["pdf"]}, facets=False))
    assert not res.truncated and res.total == sum(r.format == "pdf" for r in recs)


# -- hybrid (the service's policy over any backend) ----------------------------------------
HYBRID_TEXTS = (
    ("ee", "Estonia lets citizens cast their ballots online in national elections.", "md"),
    ("br", "Brazil's voters use electronic voting machines in every municipality.", "txt"),
    ("fj", "Fiji extended broadband to outer islands by submarine cable.", "txt"),
    ("cl", "Chile publishes government datasets on a national open data portal.", "txt"),
    ("rw", "Rwanda trains civil servants in digital skills with universities.", "txt"),
)


def test_hybrid_dense_candidates_obey_filters_and_facets_count_the_fused_set(make, tmp_path):
    """Vectors from the real model in a real catalog; the backend decides which dense
    candidates pass the request's filters."""
    from kb.embed import vectors
    from kb.embed.dense import DenseIndex
    from kb.embed.model import MODEL_ID, get_embedder
    from kb.store import Catalog

    recs = [rec(doc, 0, text, format=fmt) for doc, text, fmt in HYBRID_TEXTS]
    ix = make(recs)
    cat = Catalog(tmp_path / "catalog.sqlite")
    with cat.transaction():
        for r in recs:
            cat.db.execute("INSERT INTO documents (id, sha256, format, ingested_at) VALUES (?, ?, ?, '')",
                           (r.doc_id, r.doc_id, r.format))
            cat.db.execute("INSERT INTO passages (id, doc_id, ordinal, text) VALUES (?, ?, 0, ?)",
                           (r.id, r.doc_id, r.text))
        vecs = get_embedder(1).embed([r.text for r in recs])
        vectors.put(cat.db, MODEL_ID, zip([r.id for r in recs], vecs))
    cat.close()
    ix.dense = DenseIndex(tmp_path / "catalog.sqlite", lambda: get_embedder(1))
    q = "how do people vote over the internet"
    res = ix.search(SearchRequest(q=q, per_page=10, max_per_document=0))
    assert res.mode == "hybrid", res.mode_reason
    assert "ee-0" in [h.passage_id for h in res.hits]  # no word of the query: found by its vector
    assert sum(c for _v, c in res.facets["type"]) == res.total == len(res.hits)
    filtered = ix.search(SearchRequest(q=q, per_page=10, max_per_document=0, filters={"type": ["txt"]}))
    assert filtered.mode == "hybrid" and filtered.hits
    assert "ee-0" not in [h.passage_id for h in filtered.hits]
    assert dict(filtered.facets["type"]) == {"txt": filtered.total}
    bm25 = ix.search(SearchRequest(q=q, per_page=10, max_per_document=0, mode="bm25"))
    assert "ee-0" not in [h.passage_id for h in bm25.hits]


def test_union_ids_count_in_total_and_facets_and_say_which_pass_the_filters(make):
    """BackendQuery.union_ids (hybrid's dense candidates): hits and `total` stay the query's;
    union_total and the facets count the query's matches plus the ids that pass the filters;
    union_found names those ids (an unknown id is never found)."""
    from kb.search import language
    from kb.search.types import BackendQuery

    recs = corpus()
    ix = make(recs)
    by_id = {r.id: r for r in recs}
    matches = {r.id for r in recs if has_all(r, ["cloud"])}
    others = sorted(set(by_id) - matches)
    extra = tuple(others[::3]) + ("d99-9",)
    parsed = language.parse("cloud", "and", None, ix.settings)
    seen: list[tuple[int, int]] = []
    for filters in ({}, {"type": ["pdf"]}, {"country": ["KOR", "JPN"]}):
        def passes(pid: str, filters: dict = filters) -> bool:
            r = by_id[pid]
            values = {f: getattr(r, "format" if f == "type" else f) for f in filters}
            return all(any(v in (values[f] if isinstance(values[f], list) else [values[f]]) for v in vals)
                       for f, vals in filters.items())

        plain = ix.backend.search(BackendQuery(parsed, filters=filters, limit=100, facet_fields=FACET_FIELDS,
                                               facet_limit=0, highlight=False))
        page = ix.backend.search(BackendQuery(parsed, filters=filters, limit=100, facet_fields=FACET_FIELDS,
                                              facet_limit=0, highlight=False, union_ids=extra))
        assert [h.passage_id for h in page.hits] == [h.passage_id for h in plain.hits]
        assert page.total == plain.total == sum(passes(p) for p in matches)
        found = [p for p in extra if p in by_id and passes(p)]
        assert list(page.union_found) == found
        seen.append((len(found), len(extra) - 1 - len(found)))  # (found, filtered out)
        union = {p for p in matches if passes(p)} | set(found)
        assert page.union_total == len(union)
        want_types: dict[str, int] = {}
        for p in union:
            want_types[by_id[p].format] = want_types.get(by_id[p].format, 0) + 1
        assert dict(page.facets["type"]) == want_types
    assert plain.union_total is None and plain.union_found == ()
    assert seen[0] == (len(extra) - 1, 0) and all(f and out for f, out in seen[1:])  # the filters did cut


def test_mark_highlights_words_it_does_not_match(make):
    """BackendQuery.mark: passages fetched by id (hybrid's page) get the query's words marked
    in their snippets, and nothing else changes: the same hits, whether they hold the words."""
    from kb.search import language
    from kb.search.hybrid import _ids_query
    from kb.search.types import BackendQuery

    recs = corpus()
    ix = make(recs)
    with_cloud = [r.id for r in recs if has_all(r, ["cloud"])][:3]
    without = [r.id for r in recs if not has_all(r, ["cloud"])][:3]
    ids = _ids_query(with_cloud + without)
    plain = ix.backend.search(BackendQuery(ids, limit=10, highlight=True))
    marked = ix.backend.search(BackendQuery(ids, limit=10, highlight=True,
                                            mark=language.parse("cloud", "and", None, ix.settings)))
    assert sorted(h.passage_id for h in marked.hits) == sorted(with_cloud + without) == \
        sorted(h.passage_id for h in plain.hits)
    assert marked.total == plain.total == 6
    for h in marked.hits:
        assert ("<mark>cloud</mark>" in h.snippet.lower()) == (h.passage_id in with_cloud), h.snippet
    assert not any("<mark>" in h.snippet for h in plain.hits)


def test_light_hits_carry_the_same_ids_and_scores_in_the_same_order(make):
    """BackendQuery.light (hybrid's BM25 candidates): ids, documents and scores only, and
    everything else about the page as without it."""
    from kb.search import language
    from kb.search.types import BackendQuery

    ix = make(corpus())
    parsed = language.parse("cloud data", "or", None, ix.settings)
    for filters in ({}, {"type": ["pdf"]}):
        full = ix.backend.search(BackendQuery(parsed, filters=filters, limit=15, facet_fields=FACET_FIELDS))
        light = ix.backend.search(BackendQuery(parsed, filters=filters, limit=15, facet_fields=FACET_FIELDS,
                                               light=True))
        assert len(full.hits) == 15
        assert [(h.passage_id, h.doc_id, h.score) for h in light.hits] == \
            [(h.passage_id, h.doc_id, h.score) for h in full.hits]
        assert (light.total, light.facets, light.next_offset) == (full.total, full.facets, full.next_offset)
        assert all(h.text and h.snippet for h in full.hits) and not any(h.text or h.snippet for h in light.hits)
