"""The write path (indexer.library) on the forum report: curation is validated, re-tags and
re-indexes what it changes, runs as a background job past its bound (202 + status URL),
and survives re-ingest and `kb reindex`; a delete leaves nothing in catalog or index."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from indexer import library
from kb.auth import create_token
from kb.errors import ConflictError, InvalidInputError, NotFoundError
from kb.facade import KB
from kb.search.types import SearchRequest
from tests.conftest import CORPUS

REPORT = CORPUS / "forum-2012-final-report.md"


def _total(kb: KB, **filters: str) -> int:
    return kb.search(SearchRequest(q="", filters={k: [v] for k, v in filters.items()}, per_page=1)).total


@pytest.fixture
def kb(tmp_path: Path):
    with KB({"home": str(tmp_path / "home")}) as kb:
        summary = library.ingest([REPORT], kb, workers=1)
        assert summary["added"] == 1 and not summary["failed"]
        yield kb


def test_bad_curation_is_refused_and_records_nothing(kb):
    for action, type_, ent, value, error in [
            ("alias", "org", "no-such-org", "X", NotFoundError),
            ("merge", "org", "undesa", "undesa", ConflictError),
            ("merge", "org", "undesa", "no-such-org", NotFoundError),
            ("alias", "org", "undesa", "   ", InvalidInputError),
            ("alias", "org", "undesa", "x" * 301, InvalidInputError),
            ("explode", "org", "undesa", "x", InvalidInputError),
            ("alias", None, None, "x", InvalidInputError)]:
        with pytest.raises(error):
            library.curate(kb, action, type_, ent, value)
    assert kb.catalog.curation() == []


def test_reject_retags_reindexes_and_survives_reingest_and_reindex(kb):
    assert _total(kb, org="lotte-hotel") >= 1
    result = library.curate(kb, "reject", "org", "lotte-hotel", "lotte-hotel")
    assert (result.documents, result.job) == (1, None) and result.passages > 1
    assert result.message == f"re-tagged 1 documents, {result.passages} passages"
    assert _total(kb, org="lotte-hotel") == 0
    assert not [r for r in kb.catalog.entity_counts("org") if r["entity_id"] == "lotte-hotel"]
    library.ingest([REPORT], kb, workers=1, force=True)
    assert _total(kb, org="lotte-hotel") == 0
    library.reindex(kb)
    assert _total(kb, org="lotte-hotel") == 0 and _total(kb, country="KOR") >= 1


def test_a_rejected_surface_and_an_alias_touch_only_documents_containing_them(kb):
    other = kb.home.parent / "other.md"
    other.write_text("# Note\n\nKazakhstan presented its Zebrafile service.\n", encoding="utf-8")
    library.ingest([other], kb, workers=1)
    result = library.curate(kb, "alias", "org", "undesa", "Lotte Hotel")  # only in the report
    assert result.documents == 1
    assert _total(kb, org="undesa") >= 1
    result = library.curate(kb, "reject", None, None, "zebrafile")
    assert result.id is None and result.documents == 1  # only the note says it


def test_past_the_bound_the_api_answers_202_and_a_job_retags(kb):
    from web import create_app

    _, token = create_token(kb.catalog, "curator")
    app = create_app({"home": str(kb.home), "curation_inline_max_docs": 0})
    client = app.test_client()
    assert _total(kb, org="lotte-hotel") >= 1
    r = client.post("/api/v1/entities/org/lotte-hotel/reject", json={}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["job"] and r.headers["Location"] == body["links"]["status"] == f"/api/v1/jobs/{body['job']}"
    assert body["applied"] == f"re-tagging 1 documents in the background (job {body['job']})"
    deadline = time.monotonic() + 60
    while (job := client.get(body["links"]["status"]).get_json())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["state"] == "done" and job["result"]["documents"] == 1 and job["done"] == 1, job
    assert client.get("/api/v1/search?org=lotte-hotel").get_json()["total"] == 0
    assert client.get("/api/v1/jobs/0123456789abcdef").status_code == 404
    assert client.get("/api/v1/jobs/nope").status_code == 404


def test_delete_removes_the_document_from_catalog_and_index(kb):
    doc_id = kb.catalog.all_doc_ids()[0]
    assert library.delete(kb, doc_id) == {"deleted": doc_id, "files_removed": 0}  # a corpus file stays
    assert REPORT.exists() and kb.catalog.count_documents() == 0
    assert kb.index.doc_ids() == {} and kb.catalog.pending_index_work() == ([], [])
    with pytest.raises(NotFoundError):
        library.delete(kb, doc_id)


def test_a_job_whose_process_dies_reads_interrupted_and_retag_finishes_it(kb):
    """A background curation job in a real process SIGKILLed mid-job (after re-tagging its
    first document): its status says `interrupted` with the command that finishes the work,
    not "running" forever; `kb entities retag` then applies the curation."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    home = str(kb.home)
    kb.close()  # the child writes the catalog; this test reads it again after
    script = ("import threading\n"
              "from indexer import library\nfrom kb.facade import KB\n"
              f"with KB({{'home': {home!r}, 'curation_inline_max_docs': 0}}) as kb:\n"
              "    result = library.curate(kb, 'reject', 'org', 'lotte-hotel', 'lotte-hotel')\n"
              "    print(result.job, flush=True)\n"
              "    for t in threading.enumerate():\n"
              "        if t.name.startswith('kb-job-'):\n"
              "            t.join()\n")
    proc = subprocess.run([sys.executable, "-c", script], check=False, cwd=REPO, capture_output=True, text=True,
                          timeout=300,
                          env={**os.environ, "KB_CRASH_AT": "retag:1"})
    assert proc.returncode == -9, proc.stderr[-2000:]  # SIGKILL, at the crash point inside the job
    job_id = proc.stdout.strip()
    with KB({"home": home}) as again:
        job = library.job_status(again.catalog, job_id)
        assert job["state"] == "interrupted" and "kb entities retag" in job["hint"], job
        assert job["done"] == 0 and job["total"] == 1 and "owner" not in job
        from web import create_app

        answer = create_app({"home": home}).test_client().get(f"/api/v1/jobs/{job_id}")
        assert answer.status_code == 200 and answer.get_json()["state"] == "interrupted"
        assert _total(again, org="lotte-hotel") >= 1  # the index never heard of the curation
        assert library.retag(again)["documents"] == 1
        assert _total(again, org="lotte-hotel") == 0
