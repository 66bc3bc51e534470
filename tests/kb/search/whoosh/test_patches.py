import random

from kb.search.types import PassageRecord, SearchRequest
from kb.settings import load
from tests.kb.search.searchkit import open_index
from tests.records import passage_record


def rec(doc: str, i: int, text: str) -> PassageRecord:
    return passage_record(doc, i, text, title="t", heading_path=[], path="", year=2012, event=None,
                          page_start=1, page_end=1)


def test_writers_after_a_reseeded_random_do_not_reuse_a_segment_name(tmp_path):
    """hypothesis re-seeds `random` per example; whoosh's own segment names then repeat and
    the second commit failed with an AssertionError in create_compound_file."""
    index = open_index(tmp_path / "ix", load({"home": str(tmp_path)}, environ={}))
    for n in range(3):
        random.seed(0)
        index.update_documents([], [rec(f"d{n}", 0, f"broadband number {n}")])
    assert index.search(SearchRequest(q="broadband")).total == 3
    index.close()
