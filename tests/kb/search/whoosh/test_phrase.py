"""Exact phrases (kb.search.whoosh.phrase) against Whoosh's own phrase matcher, and the time budget
cutting a query between words (kb.search.whoosh.engine)."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from whoosh import query as wq
from whoosh.formats import Characters, Positions

from kb import settings as settings_mod
from kb.search.types import SearchRequest
from kb.search.whoosh import engine as engine_mod
from kb.search.whoosh.engine import Engine
from kb.search.whoosh.phrase import _parse_deltas, decode_positions
from tests.kb.search.searchkit import open_index
from tests.kb.search.whoosh.test_index import rec

# Few words, many repeats: phrases of them match often, and in several places per passage.
VOCAB = ["open", "data", "portal", "citizen", "service", "budget", "digital", "report", "the", "of"]


def passages(rng: random.Random, docs: range, per_doc: int) -> list[dict]:
    return [rec(f"d{d}", i, " ".join(rng.choices(VOCAB, k=rng.randint(3, 40))),
                title=" ".join(rng.choices(VOCAB, k=rng.randint(1, 5))))
            for d in docs for i in range(per_doc)]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("phrase")
    ix = open_index(Path(home) / "index", settings_mod.load({"home": str(home)}))
    rng = random.Random(7)
    ix.index_passages(passages(rng, range(40), 8))
    # A second batch: a second segment, and documents replaced and deleted in the first one.
    ix.index_passages(passages(rng, range(35, 70), 6))
    for d in (3, 11, 50):
        ix.delete_document(f"d{d}")
    yield ix
    ix.close()


def searcher_and_engine(ix) -> tuple:
    s = ix.backend._searcher_now()
    return s, Engine(s, ix.backend._columns_for(s), float(ix.backend.weighting.K1), float(ix.backend.weighting.B), float("inf"))


def phrases(s, rng: random.Random) -> list[tuple[str, list[str]]]:
    """(field, analysed words): slices of the indexed passages (each matches at least where
    it was taken from), random word sequences, and sequences repeating a word."""
    analyzer = s.schema["text"].analyzer
    words = sorted({t.text for v in VOCAB for t in analyzer(v)})
    out = []
    for docnum in rng.sample(range(s.doc_count_all()), 80):
        field = rng.choice(["text", "title"])
        tokens = [t.text for t in analyzer(s.stored_fields(docnum).get(field) or "")]
        n = rng.randint(2, 4)
        if len(tokens) >= n:
            start = rng.randrange(len(tokens) - n + 1)
            out.append((field, tokens[start:start + n]))
    for _ in range(60):
        out.append((rng.choice(["text", "title"]), rng.choices(words, k=rng.randint(2, 4))))
    for w in words:
        out += [("text", [w, w]), ("text", [w, w, w]), ("text", [w, words[0], w]), ("title", [w, w])]
    return out


def test_phrases_match_exactly_what_whoosh_matches(index):
    s, eng = searcher_and_engine(index)
    assert len(s.reader().leaf_readers()) >= 2 and s.reader().has_deletions(), "the fixture should span segments"
    matched = empty = repeated = 0
    for field, words in phrases(s, random.Random(11)):
        q = wq.Phrase(field, words)
        got, _ = eng.run(q)
        want = sorted(s.docs_for_query(q))  # Whoosh's SpanNear2 matcher, deleted documents left out
        assert got.tolist() == want, (field, words)
        matched += bool(want)
        empty += not want
        repeated += bool(want) and len(set(words)) < len(words)
    # The comparison covered both outcomes and phrases repeating a word.
    assert matched > 50 and empty > 10 and repeated > 5


def test_phrase_score_is_the_sum_of_its_words_scores(index):
    _, eng = searcher_and_engine(index)
    for words in (["open", "data"], ["data", "data"], ["citizen", "servic", "report"]):
        ids, scores = eng.run(wq.Phrase("text", words))
        assert len(ids)
        a_ids, a_scores = eng.run(wq.And([wq.Term("text", w) for w in words]))
        keep = np.isin(a_ids, ids)
        assert a_ids[keep].tolist() == ids.tolist()
        assert scores == pytest.approx(a_scores[keep], rel=1e-12)


def test_phrases_through_the_query_language(index):
    s, _ = searcher_and_engine(index)
    for text in ("open data", "data of the portal", "budget budget", "the digital report"):
        got = {h.passage_id for h in index.iter_all(SearchRequest(q=f'"{text}"', max_per_document=0))}
        words = [t.text for t in s.schema["text"].analyzer(text)]
        want = set()
        for field in ("text", "title", "heading"):
            want |= {s.stored_fields(d)["id"] for d in s.docs_for_query(wq.Phrase(field, words))}
        assert got == want and want, text


def test_positions_decoded_as_whoosh_decodes_them():
    rng = random.Random(3)
    fmt = Positions()
    values = []
    for _ in range(400):
        n = rng.choice([1, 1, 1, 2, 3, 7])
        top = rng.choice([200, 300, 70_000, 10**7])  # 1-, 2- and 4-byte pickled deltas
        values.append(fmt.encode(sorted(rng.sample(range(top), n))))
    # Long lists: past the vectorised steps, and past one pickle batch (1000 items).
    values += [fmt.encode(list(range(0, 3 * n, 3))) for n in (40, 999, 1000, 1001, 2500)]
    assert _parse_deltas(values, fmt) is not None  # the numpy parser took them, not the fallback
    starts, positions = decode_positions(values, fmt)
    assert [positions[starts[i]:starts[i + 1]].tolist() for i in range(len(values))] == [
        fmt.decode_positions(v) for v in values]
    # Another positional format goes through Whoosh's own decoder.
    chars = Characters()
    cvalues = [chars.encode([(p, p * 5, p * 5 + 4) for p in (1, 4, 300)]), chars.encode([(0, 0, 3)])]
    starts, positions = decode_positions(cvalues, chars)
    assert starts.tolist() == [0, 3, 4] and positions.tolist() == [1, 4, 300, 0]


# -- the time budget ------------------------------------------------------------------------

WORDS_INDEX = [("alpha", 12), ("bravo", 9), ("charlie", 7)]
BOTH = {"both0-0", "both1-0", "both2-0"}


@pytest.fixture()
def words_index(tmp_path: Path):
    # No result cache: the same request is searched twice, with and without the cut.
    ix = open_index(tmp_path / "ix", settings_mod.load({"home": str(tmp_path), "search_cache_size": 0}))
    recs = []
    for word, n in WORDS_INDEX:
        recs += [rec(f"{word}{i}", 0, f"{word} and filler text number {i}", title="Report",
                     country=["KOR" if i % 2 else "FRA"]) for i in range(n)]
    # Three passages hold every word: enough for an AND not to be retried as an OR.
    recs += [rec(f"both{i}", 0, "alpha bravo charlie together", title="Alpha bravo", country=["KOR"])
             for i in range(3)]
    ix.index_passages(recs)
    yield ix
    ix.close()


class Clock:
    """Stands in for the engine's time module: in time for the first `checks` looks at the
    clock (the engine looks once before reading each word), past the deadline after."""

    def __init__(self, checks: int) -> None:
        self.left = checks

    def monotonic(self) -> float:
        self.left -= 1
        return float("-inf") if self.left >= 0 else float("inf")


def cut(ix, monkeypatch: pytest.MonkeyPatch, req: SearchRequest, checks: int):
    full = ix.search(req)
    monkeypatch.setattr(engine_mod, "time", Clock(checks))
    try:
        part = ix.search(req)
    finally:
        monkeypatch.undo()
    return full, part


def hits(r) -> dict[str, float]:
    return {h.passage_id: h.score for h in r.hits}


def docs_with(word: str, country: str | None = None) -> set[str]:
    n = dict(WORDS_INDEX)[word]
    return {f"{word}{i}-0" for i in range(n) if country is None or (country == "KOR") == bool(i % 2)} | BOTH


def test_over_budget_or_query_keeps_the_words_read_in_time(words_index, monkeypatch):
    req = SearchRequest(q="alpha OR bravo OR charlie", per_page=100, max_per_document=0)
    full, part = cut(words_index, monkeypatch, req, checks=1)
    assert not full.truncated and full.total == 12 + 9 + 7 + 3
    assert part.truncated
    # One word was read before the cut: its passages, scored as in the full search.
    assert set(hits(part)) in [docs_with(w) for w, _ in WORDS_INDEX]
    assert all(hits(full)[pid] == pytest.approx(score) for pid, score in hits(part).items() if pid not in BOTH)
    _, two = cut(words_index, monkeypatch, req, checks=2)
    assert two.truncated and set(hits(part)) < set(hits(two)) < set(hits(full))


def test_over_budget_query_still_applies_its_filters(words_index, monkeypatch):
    # A filter is never cut: leaving it out would return passages outside it.
    req = SearchRequest(q="alpha OR bravo OR charlie", filters={"country": ["KOR"]}, per_page=100,
                        max_per_document=0)
    _, part = cut(words_index, monkeypatch, req, checks=1)
    assert part.truncated
    assert set(hits(part)) in [docs_with(w, "KOR") for w, _ in WORDS_INDEX]


def test_over_budget_and_query_keeps_the_clauses_read_in_time(words_index, monkeypatch):
    req = SearchRequest(q="alpha bravo", per_page=100, max_per_document=0)
    full, part = cut(words_index, monkeypatch, req, checks=1)
    assert not full.truncated and set(hits(full)) == BOTH
    # The word not read is left out of the AND rather than counted as matching nothing.
    assert part.truncated and set(hits(part)) in [docs_with("alpha"), docs_with("bravo")]


def test_over_budget_phrase_is_matched_whole_or_not_at_all(words_index, monkeypatch):
    req = SearchRequest(q='"alpha bravo"', per_page=100, max_per_document=0)
    full, part = cut(words_index, monkeypatch, req, checks=1)
    assert set(hits(full)) == BOTH and not full.truncated
    # The title's phrase (the query's first) was read in time and scored; the text's was not.
    assert part.truncated and set(hits(part)) == BOTH
    assert all(0 < score < hits(full)[pid] for pid, score in hits(part).items())
    _, none = cut(words_index, monkeypatch, req, checks=0)
    assert none.truncated and none.total == 0
