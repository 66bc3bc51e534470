"""The forum report against a held-out gold set written by reading it
(tests/fixtures/entities/forum-2012-gold.json)."""
from __future__ import annotations

import json
import re

import pytest

from indexer.tag import Tagger
from kb.model import Passage
from tests.conftest import CORPUS, FIXTURES

GOLD = json.loads((FIXTURES / "entities" / "forum-2012-gold.json").read_text(encoding="utf-8"))
TEXT = (CORPUS / "forum-2012-final-report.md").read_text(encoding="utf-8")


def f1(found: set, gold: set) -> float:
    tp = len(found & gold)
    if not tp:
        return 0.0
    p, r = tp / len(found), tp / len(gold)
    return 2 * p * r / (p + r)


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(model="")


def _passages(text: str) -> list[Passage]:
    """Paragraphs as passages (blank-line separated), as a segmenter would cut them."""
    out, _pos = [], 0
    for m in re.finditer(r"(?:[^\n]|\n(?!\s*\n))+", text):
        if m.group().strip():
            out.append(Passage(doc_id="forum", ordinal=len(out), text=m.group(), char_start=m.start()))
        m.end()
    return out


def _segmented() -> list[Passage]:
    """The passages ingest makes: the project's extractor and segmenter (table rows come out
    as 'First Name: X | Last Name: Y | Organization: Z')."""
    from indexer.extract import extract
    from indexer.segment import segment

    return segment("forum", extract(CORPUS / "forum-2012-final-report.md"))[1]


@pytest.fixture(scope="module", params=["text", "passages", "segmented"])
def result(request, tagger):
    if request.param == "text":
        mentions = tagger.tag(TEXT)
    elif request.param == "passages":
        mentions = tagger.tag_passages(_passages(TEXT), "en")
    else:
        mentions = tagger.tag_passages(_segmented(), "en")
    return mentions, tagger.people_of(mentions)


def _ids(mentions, type_):
    return {m.id for m in mentions if m.type == type_}


def test_countries_f1(result):
    mentions, _ = result
    found, gold = _ids(mentions, "country"), set(GOLD["countries"])
    assert f1(found, gold) >= 0.97, (sorted(found - gold), sorted(gold - found))


def test_regions_found(result):
    mentions, _ = result
    found, gold = _ids(mentions, "region"), set(GOLD["regions"])
    assert f1(found, gold) >= 0.9, (sorted(found - gold), sorted(gold - found))


def test_organisations_f1(result):
    mentions, _ = result
    found, gold = _ids(mentions, "org"), set(GOLD["orgs"])
    assert f1(found, gold) >= 0.90, (sorted(found - gold), sorted(gold - found))


def test_people_with_affiliation_recall(result):
    _mentions, people = result
    by_id = {p["id"]: p for p in people}
    with_aff = {pid: orgs for pid, orgs in GOLD["people"].items() if orgs}
    hit = [pid for pid, orgs in with_aff.items() if pid in by_id and set(by_id[pid]["affiliations"]) & set(orgs)]
    missed = sorted(set(with_aff) - set(hit))
    assert len(hit) / len(with_aff) >= 0.85, missed
    # nothing that is not a person, and every sighting merged into one id per person
    assert not set(by_id) & set(GOLD["not_people"])
    assert f1(set(by_id), set(GOLD["people"])) >= 0.9, (sorted(set(by_id) - set(GOLD["people"])),
                                                        sorted(set(GOLD["people"]) - set(by_id)))


def test_topics(result):
    mentions, _ = result
    found, gold = _ids(mentions, "topic"), set(GOLD["topics"])
    assert f1(found, gold) >= 0.85, (sorted(found - gold), sorted(gold - found))


def test_mentions_in_place(tagger):
    """Chosen sightings are tagged where they stand, with offsets into the text."""
    mentions = tagger.tag(TEXT)
    for g in GOLD["mentions"]:
        at = TEXT.index(g["text"])
        span = (at, at + len(g["text"]))
        hits = [m for m in mentions if m.start < span[1] and span[0] < m.end]
        assert any(m.type == g["type"] and m.id == g["id"] for m in hits), (g, [(m.type, m.id) for m in hits])
    for m in mentions:
        assert TEXT[m.start:m.end] == m.text


def test_table_rows_key_value_form(tagger):
    """Rows as a segmenter may write them: 'First Name: X | Last Name: Y | Organization: Z'."""
    rows = [Passage("d", 0, "No.: 2 | First Name: Vincenzo | Last Name: Aquaro | Organization: DPADM | Status: Staff"),
            Passage("d", 1, "The survey methodology was presented by Mr. Aquaro.")]
    mentions = tagger.tag_passages(rows, "en")
    people = {p["id"]: p for p in tagger.people_of(mentions)}
    assert people["vincenzo-aquaro"]["affiliations"] == ["dpadm"]
    assert {m.passage for m in mentions if m.id == "vincenzo-aquaro"} == {"d-0", "d-1"}
    for m in mentions:
        assert rows[int(m.passage.rsplit("-", 1)[1])].text[m.start:m.end] == m.text
