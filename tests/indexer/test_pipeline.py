"""The ingest pipeline end to end on real files: classification by content hash, failures
that do not stop the batch, record collections, pruning, the lock, index agreement."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from indexer.library import ingest
from indexer.locking import ingest_lock
from kb.errors import BusyError
from kb.facade import KB
from kb.maintenance import check
from kb.search.types import SearchRequest
from tests.conftest import CORPUS, REPO

REPORT = CORPUS / "forum-2012-final-report.md"


@pytest.fixture
def kb(kb_home):
    with KB({"home": str(kb_home)}) as k:
        yield k


def test_corpus_report_is_ingested_with_pages_headings_and_a_whole_participant_table(kb, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(REPORT, folder)
    s = ingest([folder], kb, workers=1)
    assert (s["added"], s["failed"]) == (1, 0)
    (doc,) = kb.catalog.list_documents()
    assert doc["format"] == "md" and doc["language"] == "en" and doc["year"] == 2012
    passages = kb.catalog.passages(doc["id"])
    assert len(passages) == s["passages"] >= 15
    assert all(p["heading_path"] for p in passages)
    sizes = [len(p["text"].split()) for p in passages if p["kind"] == "paragraph"]
    assert max(sizes) <= 260
    # every table row of the participant table stays whole inside one passage
    rows = [line for line in REPORT.read_text(encoding="utf-8").splitlines()
            if line.startswith("|") and not set(line) <= set("|-: ")]
    assert rows, "the report has a pipe table"
    texts = [p["text"] for p in passages if p["kind"] == "table_row"]
    first_cell = rows[1].strip("|").split("|")[0].strip()
    assert any(first_cell in t for t in texts)
    assert check(kb)["ok"]
    res = kb.search(SearchRequest(q="e-Notary"))
    assert res.total >= 1 and res.hits[0].doc_id == doc["id"]


def test_unchanged_duplicate_changed_and_pruned_files(kb, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    a = folder / "a.md"
    a.write_text("# Title A\n\nCloud computing in Kazakhstan.\n", encoding="utf-8")
    (folder / "b.txt").write_text("Open data in Chile and Uruguay.\n", encoding="utf-8")
    assert ingest([folder], kb, workers=1)["added"] == 2
    again = ingest([folder], kb, workers=1)
    assert (again["added"], again["unchanged"]) == (0, 2)
    shutil.copy(a, folder / "copy-of-a.md")
    dup = ingest([folder], kb, workers=1)
    assert dup["duplicates"] == 1 and kb.catalog.count_documents() == 2
    a.write_text("# Title A\n\nCloud computing in Kazakhstan and Korea.\n", encoding="utf-8")
    changed = ingest([folder], kb, workers=1)
    assert changed["updated"] == 1 and kb.catalog.count_documents() == 3  # the copy keeps the old bytes
    (folder / "copy-of-a.md").unlink()
    pruned = ingest([folder], kb, workers=1, prune=True)
    assert pruned["pruned"] == 1 and kb.catalog.count_documents() == 2
    report = check(kb)
    assert report["ok"], report


def test_a_bad_file_fails_with_a_reason_and_the_rest_is_ingested(kb, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "random.pdf").write_bytes(os.urandom(4096))
    (folder / "empty.docx").write_bytes(b"")
    (folder / "good.md").write_text("# Good\n\nA passage about e-participation.\n", encoding="utf-8")
    s = ingest([folder], kb, workers=2)
    assert s["added"] == 1 and s["failed"] == 2
    reasons = {os.path.basename(f["path"]): f["reason"] for f in kb.catalog.failures()}
    assert set(reasons) == {"random.pdf", "empty.docx"}
    assert all(r and "\n" not in r and "Traceback" not in r for r in reasons.values())
    # an unchanged failing file is not re-tried but is still reported
    s2 = ingest([folder], kb, workers=1)
    assert s2["failed"] == 2 and s2["unchanged"] == 1


def test_record_collections_become_documents_with_source_ids(kb, tmp_path):
    coll = tmp_path / "corpus.jsonl"
    rows = [{"_id": "r1", "title": "Broadband in Rwanda", "text": "Rwanda laid fibre."},
            {"_id": "r2", "title": "Open data", "text": "Uruguay publishes open data.", "year": 2015}]
    coll.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    s = ingest([coll], kb, workers=1)
    assert s["added"] == 2
    ids = sorted(d["source_id"] for d in kb.catalog.list_documents())
    assert ids == ["r1", "r2"]
    assert ingest([coll], kb, workers=1)["unchanged"] == 2
    rows[1]["text"] = "Uruguay publishes open government data."
    rows = rows[1:]
    coll.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    s = ingest([coll], kb, workers=1)
    assert s["added"] + s["updated"] == 1 and s["pruned"] == 1
    assert [d["source_id"] for d in kb.catalog.list_documents()] == ["r2"]
    assert check(kb)["ok"]


def test_a_second_ingest_waits_for_the_lock_then_refuses(kb_home):
    with ingest_lock(kb_home, 1), pytest.raises(BusyError, match="another ingest is running"), \
            ingest_lock(kb_home, 0.3):
        pass


def test_cli_ingest_summary_strict_and_failures(kb_home, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    (folder / "ok.txt").write_text("Digital identity in Estonia.", encoding="utf-8")
    env = {**os.environ, "KB_HOME": str(kb_home)}
    kb_cmd = [sys.executable, "-m", "kb"]
    proc = subprocess.run(check=False, args=kb_cmd + ["ingest", str(folder), "--strict", "--workers", "1"], env=env,
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    assert "1 added" in proc.stdout and "1 failed" in proc.stdout and "bad.pdf" in proc.stdout
    out = subprocess.run(check=False, args=kb_cmd + ["failures", "--format", "json"], env=env, capture_output=True,
                         text=True, timeout=120, cwd=REPO)
    (f,) = json.loads(out.stdout)
    assert f["path"].endswith("bad.pdf") and f["reason"]
    missing = subprocess.run(check=False, args=kb_cmd + ["ingest", str(tmp_path / "nope")], env=env, capture_output=True,
                             text=True, timeout=120, cwd=REPO)
    assert missing.returncode == 2 and missing.stderr.startswith("kb: error: no such file")


def test_curation_stored_in_the_catalog_applies_on_re_ingest(kb, tmp_path):
    """Curation lives in the KB home's catalog and is used whatever way the home was named."""
    f = tmp_path / "note.md"
    f.write_text("# Note\n\nThe e-Notary system of Kazakhstan cut waiting times.\n", encoding="utf-8")
    ingest([f], kb, workers=1)
    assert {m["entity_id"] for m in kb.catalog.mentions() if m["type"] == "country"} == {"KAZ"}
    with kb.catalog.transaction():
        kb.catalog.add_curation("reject", "Kazakhstan", "country", "KAZ")
    ingest([f], kb, workers=1, force=True)
    assert [m for m in kb.catalog.mentions() if m["type"] == "country"] == []
