"""A document's year: metadata first, then the document's own dates, then a year in its file
name; never a number that merely appears in its title or text. Real files, real ingest."""
from __future__ import annotations

import json

from indexer.library import ingest
from kb.facade import KB


def test_years_come_from_metadata_and_dates_never_from_numbers_in_the_text(kb_home, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "plan.txt").write_text(
        "Vision 2029: a digital Ruritania\n\nBy 2035 every service will be online, as planned in 2018.\n",
        encoding="utf-8")
    (folder / "strategy.md").write_text("# Strategy 2040\n\n- Date: 3 May 2011\n\nThe 2040 horizon.\n",
                                        encoding="utf-8")
    (folder / "report-2015.txt").write_text("Nothing dated here, only 2030 targets.\n", encoding="utf-8")
    (folder / "agenda 2030.txt").write_text("Agenda for the 2030 goals, reviewed.\n", encoding="utf-8")
    (folder / "agenda 2030.txt.meta.json").write_text(json.dumps({"date": "2019-07"}), encoding="utf-8")
    (folder / "goals-2049.txt").write_text("Goals.\n", encoding="utf-8")  # a year to come: no year
    with KB({"home": str(kb_home)}) as kb:
        assert ingest([folder], kb, workers=1)["added"] == 5
        years = {d["metadata"]["filename"]: d["year"] for d in kb.catalog.list_documents()}
    assert years == {"plan.txt": None, "strategy.md": 2011, "report-2015.txt": 2015, "agenda 2030.txt": 2019,
                     "goals-2049.txt": None}
