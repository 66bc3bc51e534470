"""An export of more than 10,000 passages streams in flat memory and holds exactly the
search total. The corpus is generated: synthetic PassageRecords go straight into a real
Whoosh index with index_passages (no extraction), which keeps the test fast."""
from __future__ import annotations

import csv
import gc
import io
import json
import random
import tracemalloc

import pytest

from kb import settings as settings_mod
from kb.export import Provenance, build_id, export
from kb.search.types import PassageRecord, SearchRequest
from tests.kb.search.searchkit import open_index

N_PASSAGES = 10_200
WORDS = ("broadband", "procurement", "identity", "cloud", "privacy", "portal", "citizen", "service",
         "ministry", "strategy", "network", "capacity", "interoperability", "mobile", "data", "open")


def records(n: int):
    rnd = random.Random(7)
    for i in range(n):
        doc = f"gen-{i // 40:04d}"
        text = " ".join(rnd.choice(WORDS) for _ in range(6)) + f" =SUM(A{i})"
        yield PassageRecord(f"{doc}-{i % 40}", doc, i % 40, text, title=f"Generated report {i // 40}",
                            heading_path=["Part 1"], path=f"corpus/{doc}.pdf", format="pdf", year=2010 + i % 8,
                            lang="en", page_start=i % 40 // 4 + 1, page_end=i % 40 // 4 + 1,
                            country=["KOR"] if i % 3 == 0 else [],
                            topic=["broadband"] if "broadband" in text else [])


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    path = tmp_path_factory.mktemp("large") / "index"
    ix = open_index(path, settings_mod.load({"home": str(path.parent)}))
    ix.index_passages(records(N_PASSAGES))
    yield ix
    ix.close()


def measure(index, fmt: str, filters: dict, out_path) -> tuple[int, bytes]:
    """tracemalloc peak (bytes) while streaming the export, and the output."""
    request = SearchRequest(q="", filters=filters, facets=False, highlight=False, max_per_document=0)
    prov = Provenance(query="", filters=filters, build_id=build_id(index))
    gc.collect()
    # The output goes to a file, as it would to a socket: only the export's memory is traced.
    with open(out_path, "wb") as sink:
        tracemalloc.start()
        try:
            sink.writelines(export(index.iter_all(request), fmt, prov))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return peak, out_path.read_bytes()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_large_export_is_complete_and_flat(index, fmt, tmp_path):
    total = index.search(SearchRequest(q="", facets=False, per_page=1)).total
    assert total == N_PASSAGES > 10_000
    small = {"country": ["KOR"]}  # a third of the corpus
    small_total = index.search(SearchRequest(filters=small, facets=False, per_page=1)).total
    assert small_total == (N_PASSAGES + 2) // 3

    peak_all, out_all = measure(index, fmt, {}, tmp_path / "all")
    peak_small, out_small = measure(index, fmt, small, tmp_path / "small")

    if fmt == "jsonl":
        rows = [json.loads(x) for x in out_all.decode("utf-8").splitlines()]
    else:
        parsed = list(csv.reader(io.StringIO(out_all.decode("utf-8"), newline="")))
        assert parsed[0][0] == "passage_id"
        rows = parsed[1:]
        assert not any(r[9].startswith("=") for r in rows)
    assert len(rows) == total  # no cap, nothing lost
    ids = [r["passage_id"] if fmt == "jsonl" else r[0] for r in rows]
    assert len(set(ids)) == total

    # Flat memory: the export's own allocations do not grow with the row count. The full export
    # has ~3x the rows of the small one and ~3x the output, but its peak stays within a fixed
    # allowance of the small one's, and far below the output size.
    assert len(out_all) > 2.5 * len(out_small)
    assert peak_all < peak_small * 1.5 + 2_000_000, (peak_all, peak_small)
    assert peak_all < len(out_all) / 2, (peak_all, len(out_all))
