"""The one rule that combines a person's records across documents (kb.entities.people.fold_person),
through a real catalog: what ingest and re-tag store, and what the person page reads."""
from __future__ import annotations

from kb.entities.people import fold_person
from kb.store import Catalog


def _store(cat: Catalog, seen: dict, doc_id: str, year: int, title: str) -> None:
    name, data = fold_person(cat.get_person(seen["id"]), seen, doc_id, year, title)
    with cat.transaction():
        cat.put_person(seen["id"], name, data)


def test_lists_accumulate_once_and_each_document_is_one_appearance(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    first = {"id": "jane-doe", "name": "Jane Doe", "honorific": "Dr.", "affiliations": ["undesa"],
             "titles": ["Director", "Director"], "countries": ["KOR"]}
    _store(cat, first, "d1", 2012, "Forum report")
    again = {"id": "jane-doe", "name": "Jane A. Doe", "honorific": "Ms.", "affiliations": ["undesa", "itu"],
             "titles": ["Chair"], "countries": ["FRA"]}
    _store(cat, again, "d2", 2014, "Slides")
    _store(cat, again, "d2", 2014, "Slides")  # re-ingest of d2: its appearance is replaced, not added
    person = cat.get_person("jane-doe")
    assert person["name"] == "Jane A. Doe"  # the latest name
    assert person["affiliations"] == ["undesa", "itu"] and person["titles"] == ["Director", "Chair"]
    assert person["honorifics"] == ["Dr.", "Ms."] and person["countries"] == ["KOR", "FRA"]
    assert person["country"] == "KOR"  # the first seen: the page shows one
    assert [(a["doc_id"], a["year"], a["roles"]) for a in person["appearances"]] == [
        ("d1", 2012, ["Director", "Director"]), ("d2", 2014, ["Chair"])]
    assert "honorific" not in person and "doc_ids" not in person  # one set of stored keys
