"""Hostile input: one real `kb ingest` over files built to break it (zip bombs, entity
expansion, deep nesting, huge streams, thousands of pages, random bytes, empty, sparse
multi-GB, odd names, symlink loops) plus everything in ../shared/docs. Each ends within its
limits with a one-line reason, and the rest of the batch is ingested."""
from __future__ import annotations

import os
import shutil

import pytest

from indexer.library import ingest
from kb.facade import KB
from kb.maintenance import check
from kb.search.types import SearchRequest
from tests.conftest import SHARED
from tests.reliability import hostile_run
from tests.reliability.generators import good_docs

pytestmark = pytest.mark.slow

MUST_FAIL_AS = {
    "zip-bomb DOCX (600 MiB inflate)": "resource_limit",
    "zip-bomb PPTX (600 MiB inflate)": "resource_limit",
    "zip-bomb XLSX (600 MiB inflate)": "resource_limit",
    "sparse 3 GiB file": "resource_limit",
}
MUST_INGEST = ["newline in file name", "255-byte file name"]
NEVER_INGESTED = ["zip-bomb DOCX whose headers lie (declare 4 KiB)", "billion-laughs XML part in DOCX",
                  "random bytes named .pdf", "random bytes named .docx", "PDF truncated in the middle",
                  "PDF, 600 MiB content stream + 10M-object ObjStm"]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return hostile_run.run(tmp_path_factory.mktemp("hostile"), with_shared=(SHARED / "docs").is_dir())


def test_the_batch_finishes_in_bounded_time_and_exit_code_zero(result):
    assert result["returncode"] == 0, result["stderr"][-2000:]
    assert result["seconds"] < hostile_run.WALL_LIMIT
    assert result["summary"]["peak_worker_rss_mb"] <= hostile_run.FILE_MEMORY_MB


@pytest.mark.parametrize("case", sorted(set(MUST_FAIL_AS) | set(MUST_INGEST) | set(NEVER_INGESTED)))
def test_each_hostile_case_has_its_expected_outcome(result, case):
    code, reason = result["outcomes"][case]
    if case in MUST_INGEST:
        assert code == "ingested", (code, reason)
    elif case in MUST_FAIL_AS:
        assert code == MUST_FAIL_AS[case], (code, reason)
    else:
        assert code not in ("ingested", "skipped"), f"{case} was {code}: {reason}"


def test_every_case_ends_with_a_short_one_line_reason(result):
    assert set(result["outcomes"]) == set(result["cases"])
    for case, (code, reason) in result["outcomes"].items():
        assert reason.strip(), case
        assert "\n" not in reason and len(reason) <= 300, (case, reason)
        assert "Traceback" not in reason, (case, reason)
    for path, (code, reason) in result["fails"].items():
        assert reason.strip() and "\n" not in reason and len(reason) <= 300, (path, reason)


def test_symlink_loops_do_not_hang_the_walk_or_duplicate_files(result):
    assert result["outcomes"]["symlink loop (folder -> parent)"][0] == "skipped"
    assert result["outcomes"]["self-referencing symlink"][0] == "skipped"
    loop_paths = [p for p in result["docs"] if "/loop/" in p]
    assert not loop_paths


def test_the_rest_of_the_batch_is_ingested_and_searchable(result):
    with KB({"home": str(result["home"])}) as kb:
        assert check(kb)["ok"]
        for path, marker in result["controls"].items():
            assert os.path.abspath(path) in result["docs"], f"control {path.name} not ingested"
            assert kb.search(SearchRequest(q=marker)).total >= 1, marker


def test_every_shared_document_is_ingested_or_fails_with_a_reason(result, shared):
    assert result["shared"], "no ../shared/docs outcome recorded"
    missing = [n for n, (code, _) in result["shared"].items() if code == "missing"]
    assert not missing, f"neither ingested nor failed: {missing}"
    ingested = [n for n, (code, _) in result["shared"].items() if code == "ingested"]
    assert len(ingested) >= len(result["shared"]) // 2, "most real documents should ingest"


def test_a_file_that_vanishes_mid_ingest(tmp_path):
    folder = tmp_path / "in"
    markers = good_docs(folder, n=4, tag="stay")
    doomed = folder / "zz-vanishing.md"
    doomed.write_text("# Gone\n\nThis file disappears after the walk.\n", encoding="utf-8")
    moved = folder / "zz-moved-dir"
    moved.mkdir()
    (moved / "inner.md").write_text("# Inner\n\nMoved away mid-ingest.\n", encoding="utf-8")

    def progress(event):
        if event["event"] == "start":  # the walk is done, nothing read yet
            doomed.unlink()
            shutil.rmtree(moved)

    with KB({"home": str(tmp_path / "home")}) as kb:
        summary = ingest([folder], kb, workers=1, progress=progress)
        codes = {os.path.basename(f["path"]): (f["code"], f["reason"]) for f in summary["failures"]}
        assert codes["zz-vanishing.md"][0] == "vanished", codes
        assert codes["inner.md"][0] == "vanished", codes
        assert summary["added"] == len(markers)
        assert check(kb)["ok"]
