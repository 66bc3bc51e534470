"""`kb search` and `kb search --batch` end to end through the CLI entry point."""
from __future__ import annotations

import csv
import io
import json

import pytest

from kb.facade import KB
from kb.search.types import PassageRecord
from tests.records import passage_record
from web.cli import main


def rec(doc: str, i: int, text: str, source_id: str | None = None, **kw) -> PassageRecord:
    return passage_record(doc, i, text, **{"title": f"Title {doc}", "path": f"{doc}.pdf", "format": "pdf", "year": 2012,
                                           "page_start": i + 1, "page_end": i + 1, "source_id": source_id, **kw})


@pytest.fixture
def home(tmp_path):
    kb = KB({"home": str(tmp_path)})
    kb.index.index_passages([
        rec("a", 0, "open data portal launched", source_id="S1", country=["KOR"]),
        rec("a", 1, "open data licence and portal rules", source_id="S1", country=["KOR"]),
        rec("b", 0, "data portal for procurement", country=["FRA"], format="pptx"),
        rec("c", 0, "broadband in rural areas"),
    ])
    kb.close()
    return str(tmp_path)


def test_json_output_has_total_results_facets_suggestion(home, capsys):
    assert main(["--home", home, "search", "portal", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 3
    assert {r["passage_id"] for r in data["results"]} == {"a-0", "a-1", "b-0"}
    assert {f["value"]: f["count"] for f in data["facets"]["country"]} == {"KOR": 2, "FRA": 1}
    assert data["suggestion"] is None


def test_filters_and_csv(home, capsys):
    assert main(["--home", home, "search", "portal", "--country", "FRA", "--country", "KOR", "--type", "pptx",
                 "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["passage_id"] for r in rows] == ["b-0"]


def test_table_correction_and_suggestion(home, capsys):
    assert main(["--home", home, "search", "brodband"]) == 0
    out = capsys.readouterr()
    assert "for 'broadband' (corrected; --no-correct searches as typed)" in out.err
    assert "roadband" in out.out
    assert main(["--home", home, "search", "--no-correct", "brodband"]) == 0
    out = capsys.readouterr()
    assert "0 results — did you mean: broadband" in out.err


def test_bad_query_is_a_clean_error(home, capsys):
    assert main(["--home", home, "search", "year:abc"]) == 2
    assert "kb: error:" in capsys.readouterr().err


def test_batch_trec_by_document_uses_source_id(home, tmp_path, capsys):
    topics = tmp_path / "q.tsv"
    topics.write_text("q1\topen data portal\n# comment\n\nq2\tbroadband\n", encoding="utf-8")
    assert main(["--home", home, "search", "--batch", str(topics), "--format", "trec", "--by", "document"]) == 0
    lines = [ln.split() for ln in capsys.readouterr().out.splitlines()]
    q1 = [ln for ln in lines if ln[0] == "q1"]
    assert [ln[2] for ln in q1] == ["S1", "b"]  # a's best passage only, reported as its source id
    assert all(len(ln) == 6 and ln[1] == "Q0" and ln[5] == "kb" for ln in lines)  # what trec_eval reads
    assert [ln[3] for ln in q1] == ["1", "2"]
    assert [ln[2] for ln in lines if ln[0] == "q2"] == ["c"]


def test_batch_jsonl_by_passage(home, tmp_path, capsys):
    topics = tmp_path / "q.tsv"
    topics.write_text("q1\tportal\n", encoding="utf-8")
    assert main(["--home", home, "search", "--batch", str(topics), "--limit", "2"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    data = json.loads(line)
    assert data["qid"] == "q1" and len(data["results"]) == 2
    first = data["results"][0]
    assert first["rank"] == 1
    # every hit names its passage fully: no second lookup needed
    assert first["passage_id"] in {"a-0", "a-1", "b-0"} and first["doc_id"] == first["passage_id"][0]
    assert first["title"] == f"Title {first['doc_id']}" and first["heading_path"] == []
    assert first["page_start"] == first["page_end"] == int(first["passage_id"][-1]) + 1
    assert "<mark>portal</mark>" in first["snippet"] and isinstance(first["score"], float)
    assert "text" not in first

    assert main(["--home", home, "search", "--batch", str(topics), "--limit", "2", "--text"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert all("portal" in r["text"] and r["snippet"] for r in rows)


def test_batch_rejects_malformed_lines(home, tmp_path, capsys):
    topics = tmp_path / "q.tsv"
    topics.write_text("no tab here\n", encoding="utf-8")
    assert main(["--home", home, "search", "--batch", str(topics)]) == 2
