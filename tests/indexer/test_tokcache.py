"""The tokenizer memo (indexer.tokcache) gives the tokens spaCy's own tokenizer gives: text,
offsets, trailing whitespace and norms, on real texts, on every special case of the tokenizer
placed next to its neighbours, on whitespace of every kind, and in the six UN languages."""
from __future__ import annotations

import random
from itertools import pairwise

import pytest
import spacy
from spacy.attrs import ORTH
from spacy.tokenizer import Tokenizer

from indexer import tokcache
from indexer.tokcache import CachedTokenizer, cached
from tests.conftest import CORPUS, FIXTURES

WHITESPACE = [" ", "  ", "\n", " \n", "\n\n", "\t", "\u00a0", " \u00a0 ", "\n\n ", "\u2028", "\u3000", ""]


def _tokens(doc) -> list[tuple]:
    return [(t.text, t.idx, t.whitespace_, t.norm_, t.lower_, t.is_title, t.is_alpha) for t in doc]


def _same(tok: Tokenizer, memo: CachedTokenizer, texts: list[str]) -> None:
    for text in texts:
        for _ in range(2):  # first sight fills the memo, the second replays it
            got, want = memo(text), tok(text)
            assert got.text == text
            assert _tokens(got) == _tokens(want), text[:200]


def _specials_next_to_each_other(tok: Tokenizer, n: int = 2000) -> list[str]:
    """Every special case split apart at its own token boundaries ('Mr .', "' s", ': *'), and
    random runs of special cases and their pieces with random whitespace between them."""
    bare = Tokenizer(tok.vocab, rules={}, prefix_search=tok.prefix_search, suffix_search=tok.suffix_search,
                     infix_finditer=tok.infix_finditer, token_match=tok.token_match, url_match=tok.url_match)
    keys = sorted(tok.rules)
    out = []
    pieces = list(keys)
    for key in keys:
        parts = [t.text for t in bare(key)]
        pieces += parts
        if len(parts) > 1:
            out += [" ".join(parts), f"x {' '.join(parts)} y", f"{''.join(parts[:-1])} {parts[-1]}"]
    rnd = random.Random(7)
    for _ in range(n):
        words = rnd.choices(pieces + ["Korea", "Mr", "U.S", "a.m", "word"], k=rnd.randint(1, 8))
        out.append("".join(w + rnd.choice(WHITESPACE) for w in words))
    return out + ["", " ", "  a", " a ", "a ", "a  ", "\n", "\na\n", "a\u00a0b", "a \u2028 b"]


@pytest.fixture(scope="module")
def real_texts() -> list[str]:
    texts = [(CORPUS / "forum-2012-final-report.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "tagging").glob("sample-*"))]
    return texts


def test_real_texts(real_texts):
    nlp = spacy.blank("en")
    _same(nlp.tokenizer, CachedTokenizer(nlp.tokenizer), real_texts)


def test_ungd_speeches(shared):
    files = sorted((shared / "texts" / "ungd-2024" / "txt").glob("*.txt"))[::4]
    if not files:
        pytest.skip("the UNGD 2024 speeches are absent from ../shared")
    nlp = spacy.blank("en")
    _same(nlp.tokenizer, CachedTokenizer(nlp.tokenizer),
          [f.read_text(encoding="utf-8", errors="replace") for f in files])


@pytest.mark.parametrize("lang", ["en", "fr", "es", "ru", "ar"])
def test_special_cases_and_whitespace(lang, real_texts):
    nlp = spacy.blank(lang)
    memo = cached(nlp.tokenizer)
    assert isinstance(memo, CachedTokenizer)
    _same(nlp.tokenizer, memo, _specials_next_to_each_other(nlp.tokenizer) + real_texts)


def test_special_case_across_a_space():
    """A special case with a space inside joins two pieces: they are tokenised together."""
    nlp = spacy.blank("en")
    nlp.tokenizer.add_special_case("New York", [{ORTH: "New York"}])
    nlp.tokenizer.add_special_case("New York City", [{ORTH: "New York City"}])
    memo = CachedTokenizer(nlp.tokenizer)
    texts = ["We met in New York.", "New York City, New  York, New\nYork", "a New York b New York City c"]
    _same(nlp.tokenizer, memo, texts)
    assert [t.text for t in memo(texts[0])] == ["We", "met", "in", "New York", "."]


def test_norms_of_special_cases():
    nlp = spacy.blank("en")
    doc = CachedTokenizer(nlp.tokenizer)("We don't know; they can't say and won't.")
    assert [t.norm_ for t in doc if t.text in ("n't", "ca", "wo")] == ["not", "can", "not", "will", "not"]


def test_memo_replays_without_the_tokenizer(real_texts):
    """The second time a text is seen, spaCy's tokenizer is called only for the pieces too
    long to keep (a markdown table rule)."""
    nlp = spacy.blank("en")
    calls = []

    class Counting:
        def __init__(self, tok):
            self.tok = tok

        def __call__(self, text):
            calls.append(text)
            return self.tok(text)

    memo = CachedTokenizer(nlp.tokenizer)
    memo.tokenizer = Counting(nlp.tokenizer)
    memo(real_texts[0])
    first = len(calls)
    calls.clear()
    memo(real_texts[0])
    assert first > 1000 and all(len(piece) > tokcache.MAX_UNIT_CHARS for piece in calls)  # long pieces: not kept


def test_memo_is_bounded(monkeypatch, real_texts):
    """Past MAX_UNITS entries the memo starts again; tokens stay the same."""
    monkeypatch.setattr(tokcache, "MAX_UNITS", 50)
    nlp = spacy.blank("en")
    memo = CachedTokenizer(nlp.tokenizer)
    sizes = []
    for para in real_texts[0].split("\n\n")[:40]:
        _same(nlp.tokenizer, memo, [para])
        sizes.append(len(memo._memo))
    assert max(sizes) <= 50
    assert any(b < a for a, b in pairwise(sizes))  # it was cleared on the way


def test_other_tokenizers_are_left_alone():
    nlp = spacy.blank("zh")  # character segmenter, not spaCy's rule tokenizer
    assert cached(nlp.tokenizer) is nlp.tokenizer


def test_memory_zone_bypasses_the_memo(real_texts):
    nlp = spacy.blank("en")
    memo = CachedTokenizer(nlp.tokenizer)
    with nlp.memory_zone():
        assert _tokens(memo(real_texts[1])) == _tokens(nlp.tokenizer(real_texts[1]))
    assert len(memo._memo) == 0
