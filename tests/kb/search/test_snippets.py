"""kb.search.snippets.match_spans marks exactly the tokens its analyzer turns into a query
term: checked against the definition (the analyzer run over the whole text with character
offsets) for every analyzer of the schema, on the corpus report, the UNGD speeches of
corpus/ and hand-written edge cases of the tokenizer (joiners, apostrophes, underscores,
accents, digits, tokens that contain a matching word)."""
from __future__ import annotations

import random

import pytest

from kb.search.snippets import _merge, match_spans
from kb.search.whoosh.schema import TEXT_FIELDS, build_schema
from tests.conftest import CORPUS

EDGES = [
    "U.S. and U.S.A. policy; the U.S.-led talks. U.S's role, U.S’s role, U.S'",
    "don't, don’t, o'clock, rock'n'roll, 'quoted' ’curly’ a.'b x_y __init__ e.government e-government",
    "Government governments GOVERNMENT governmental government. government's governments' govern",
    "café Café CAFÉ cafe communiqué communique naïve résumé Ünited unïted",
    "2024 2024.5 1.2.3 v2.0 COVID-19 covid19 SDG16 16.9 a1b2",
    "data data.data data..data .data data. data'data data’’data 'data' data—data data_data",
    "Nations United Nations' Nations’ nation nations NATIONS",
    "",
    "   ",
    "l'administration d'État aujourd’hui Québec développement durable",
    "государственное управление цифровое правительство",
    "الحكومة الإلكترونية والتنمية المستدامة",
    "电子政务 東京都 전자정부 government 政府",
]


def _reference(text: str, analyzer, terms: set[str]) -> list[tuple[int, int]]:
    return _merge((t.startchar, t.endchar)
                  for t in analyzer(text, chars=True, mode="index", removestops=False) if t.text in terms)


def _texts() -> list[str]:
    texts = list(EDGES)
    report = (CORPUS / "forum-2012-final-report.md").read_text(encoding="utf-8")
    texts += [p for p in report.split("\n\n") if p.strip()][:300]
    for path in sorted((CORPUS / "ungd-2024").glob("*.txt"))[:15]:
        texts += [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()][:20]
    return texts


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_spans_are_the_analyzers_tokens_that_are_terms(field):
    analyzer = build_schema()[field].analyzer
    texts = _texts()
    rng = random.Random(15)
    forms = sorted({t.text for text in texts[:80] for t in analyzer(text, mode="index", removestops=False)})
    checked = marked = 0
    for text in texts:
        own = [t.text for t in analyzer(text, mode="index", removestops=False)]
        for _ in range(3):
            # Terms the text holds, terms it may not hold, and stop-word-like short ones.
            terms = set(rng.sample(own, min(len(own), rng.randint(1, 4)))) | set(rng.sample(forms, 2))
            want = _reference(text, analyzer, terms)
            assert match_spans(text, analyzer, terms) == want, (field, text[:80], sorted(terms))
            checked += 1
            marked += bool(want)
    assert checked > 300 and marked > checked // 2


def test_no_terms_or_no_text_marks_nothing():
    analyzer = build_schema()["text"].analyzer
    assert match_spans("", analyzer, {"govern"}) == []
    assert match_spans("Government", analyzer, set()) == []
    assert match_spans("Government, governments", analyzer, {"govern"}) == [(0, 10), (12, 23)]
