"""Per-passage salience (kb.salience) from real ingested files: a document's own country
outranks a passing mention, through the catalog's index records and the Whoosh backend."""
from __future__ import annotations

import json

import pytest

from indexer.library import ingest
from kb.facade import KB
from kb.records import passage_records
from kb.salience import (
    HEADING_POINTS,
    SUBJECT_POINTS,
    TITLE_POINTS,
    passage_salience,
    subject_country,
)
from kb.search.types import SearchRequest

MARSHALL = ("Statement by the Marshall Islands\n\nThe Marshall Islands welcome the partnership with "
            "Kazakhstan on climate finance and thank all delegations.\n\nOur islands face rising seas.\n")
KAZAKH = ("Statement by the delegation\n\nOur country has built one of the region's first digital "
          "public service portals for every citizen.\n\nKazakhstan invites partners to its "
          "e-procurement platform.\n")


def test_points_count_mentions_heading_title_and_subject_country():
    rows = [{"passage_id": "p1", "type": "country", "entity_id": "KAZ", "text": "Kazakhstan"}] * 7 + [
        {"passage_id": "p2", "type": "country", "entity_id": "KAZ", "text": "Kazakhstan"},
        {"passage_id": "p2", "type": "org", "entity_id": "undp", "text": "ПРООН"}]
    got = passage_salience(rows, {"p1": "Intro", "p2": "Kazakhstan › Digital"}, "Report on ПРООН work", "KAZ")
    assert got["p1"]["country"]["KAZ"] == 5 + SUBJECT_POINTS  # mentions capped at five
    assert got["p2"]["country"]["KAZ"] == 1 + HEADING_POINTS + SUBJECT_POINTS
    assert got["p2"]["org"]["undp"] == 1 + TITLE_POINTS  # found by its surface, in any script


@pytest.mark.parametrize("meta, expected", [
    ({"country": "kaz"}, "KAZ"), ({"author_details": [{"name": "A", "country": "KAZ"}]}, "KAZ"),
    ({"author_details": [{"name": "A", "country": "KAZ"}, {"name": "B", "country": "FRA"}]}, None),
    ({}, None), (None, None)])
def test_subject_country_comes_from_metadata(meta, expected):
    assert subject_country(meta) == expected


def test_the_documents_own_country_ranks_first(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_MHL_79_2024.txt").write_text(MARSHALL, encoding="utf-8")
    (folder / "b_KAZ_79_2024.txt").write_text(KAZAKH, encoding="utf-8")
    (folder / "b_KAZ_79_2024.txt.meta.json").write_text(json.dumps({"country": "KAZ"}), encoding="utf-8")
    (folder / "a_MHL_79_2024.txt.meta.json").write_text(json.dumps({"country": "MHL"}), encoding="utf-8")
    with KB({"home": str(tmp_path / "home")}) as kb:
        assert ingest([folder], kb, workers=1)["added"] == 2
        points = {r.path.rsplit("/", 1)[-1]: r.salience["country"]["KAZ"]
                  for d in kb.catalog.all_doc_ids() for r in passage_records(kb.catalog, d) if "KAZ" in r.country}
        assert points == {"a_MHL_79_2024.txt": 1, "b_KAZ_79_2024.txt": 1 + SUBJECT_POINTS}
        for query in ("Kazajstán", "Казахстан", "哈萨克斯坦", "كازاخستان", "Kazakhstan"):
            hits = kb.search(SearchRequest(q=query, max_per_document=0, facets=False)).hits
            assert [h.path.rsplit("/", 1)[-1] for h in hits][:1] == ["b_KAZ_79_2024.txt"], query
