"""An index of an older schema (before the `added` and `collection` fields) is rebuilt from the
catalog by the next `kb ingest`, so `make run` on an existing home keeps serving."""
from __future__ import annotations

import shutil

from indexer.library import ingest
from kb.facade import KB
from kb.search import generations
from kb.search.types import SearchRequest
from tests.conftest import CORPUS


def test_ingest_rebuilds_an_index_of_an_older_schema(kb_home, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(CORPUS / "ungd-2024" / "EST_79_2024.txt", folder)
    with KB({"home": str(kb_home)}) as kb:
        ingest([folder], kb, workers=1)
        live = generations.live_dir(kb.index_path)
    (live / "KB_SCHEMA").write_text("1")  # what an index written before schema 2 says
    with KB({"home": str(kb_home)}) as kb:
        assert kb.index.needs_rebuild()
        s = ingest([folder], kb, workers=1)
        assert s["unchanged"] == 1 and not kb.index.needs_rebuild()
        res = kb.search(SearchRequest(q="Estonia", sort="added"))
        assert res.total > 0 and all(h.added for h in res.hits)
