"""Record collections (CSV/JSONL) never vanish: common column names are recognised, --map
and a sidecar's map name the others, and a collection without usable columns fails with a
one-line reason naming the missing column and the columns found. Real ingests, real CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from indexer.library import ingest
from kb.facade import KB
from kb.search.types import SearchRequest
from tests.conftest import REPO


@pytest.fixture
def kb(kb_home):
    with KB({"home": str(kb_home)}) as k:
        yield k


def _cli(home, *args):
    env = {**os.environ, "KB_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "kb", *args], env=env, capture_output=True, text=True,
                          timeout=600, cwd=REPO, check=False)


def test_a_csv_without_usable_columns_fails_with_its_reason(kb, tmp_path):
    coll = tmp_path / "papers.csv"
    coll.write_text("name,summary,pubyear\nA,Open data in Chile,2015\nB,Broadband in Peru,2016\n",
                    encoding="utf-8")
    s = ingest([coll], kb, workers=1)
    assert (s["added"], s["failed"]) == (0, 1)
    (f,) = s["failures"]
    assert f["code"] == "missing_column"
    assert f["reason"] == ("no id column (id / _id / doi / url) and no text column (text / abstract / body / "
                           "content); columns found: name, summary, pubyear; name them with --map "
                           "id=COLUMN,text=COLUMN")
    # --map names them; the failure is cleared and the year column reaches the documents
    s = ingest([coll], kb, workers=1, mapping={"id": "name", "text": "summary", "year": "pubyear"})
    assert (s["added"], s["failed"]) == (2, 0) and kb.catalog.failures() == []
    assert sorted(d["year"] for d in kb.catalog.list_documents()) == [2015, 2016]


def test_the_map_of_a_sidecar_beside_the_collection(kb, tmp_path):
    coll = tmp_path / "papers.jsonl"
    coll.write_text("\n".join(json.dumps(r) for r in [
        {"ref": "p1", "summary": "Uruguay publishes open data.", "by": "Vaz, Ana; Roe, Jane", "when": "2014-05"},
        {"ref": "p2", "summary": "Rwanda laid fibre.", "by": "Roe, Jane", "when": "2013"},
    ]) + "\n", encoding="utf-8")
    assert ingest([coll], kb, workers=1)["failures"][0]["reason"].startswith("no id field (id / _id / doi / url)")
    (tmp_path / "papers.jsonl.meta.json").write_text(json.dumps(
        {"map": "id=ref,text=summary,authors=by,date=when", "collection": "Field notes", "tags": ["demo"]}),
        encoding="utf-8")
    s = ingest([coll], kb, workers=1)
    assert (s["added"], s["failed"]) == (2, 0)
    docs = {d["source_id"]: d for d in kb.catalog.list_documents()}
    assert docs["p1"]["metadata"]["authors"] == ["Ana Vaz", "Jane Roe"] and docs["p1"]["year"] == 2014
    assert docs["p1"]["metadata"]["collection"] == "Field notes" and docs["p1"]["metadata"]["tags"] == ["demo"]
    res = kb.search(SearchRequest(q="", filters={"person": ["jane-roe"]}))  # the authors passages
    assert res.total == 2 and dict(res.facets["collection"]) == {"Field notes": 2}
    assert len(kb.catalog.get_person("jane-roe")["appearances"]) == 2


def test_bad_map_is_one_line_from_the_cli(kb_home, tmp_path):
    coll = tmp_path / "c.csv"
    coll.write_text("id,text\n1,x\n", encoding="utf-8")
    proc = _cli(kb_home, "ingest", str(coll), "--map", "body=text")
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "--map: map entry body='text' must be TARGET=COLUMN" in proc.stderr


@pytest.mark.slow
def test_icegov_csv_ingests_903_papers_with_authors_and_years(shared, tmp_path):
    csv_path = shared / "texts" / "icegov" / "icegov-proceedings-all-editions.csv"
    if not csv_path.is_file():
        pytest.skip(f"no ICEGOV collection at {csv_path}")
    home = tmp_path / "home"
    proc = _cli(home, "ingest", str(csv_path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["added"], summary["failed"]) == (903, 0)
    with KB({"home": str(home)}) as kb:
        years = dict(kb.catalog.db.execute("SELECT year, COUNT(*) FROM documents GROUP BY year").fetchall())
        assert sum(years.values()) == 903 and set(years) <= set(range(2007, 2018)) and len(years) == 10
        res = kb.search(SearchRequest(q="open government data", per_page=5))
        assert res.facets["person"] and res.facets["year"]
        assert {int(y) for y, _ in res.facets["year"]} <= set(range(2007, 2018))
        doc = kb.catalog.list_documents(limit=1)[0]
        assert doc["source_id"].startswith("10.") and doc["metadata"]["authors"]
    ris = _cli(home, "export", "e-participation", "--format", "ris").stdout
    assert "AU  - " in ris and "PY  - 20" in ris and "UR  - http" in ris
