"""Helpers for the reliability tests: run `kb` in a subprocess on a KB_HOME, build a real
input folder, and verify that the catalog and the index agree passage by passage."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS, REPO, SHARED
from tests.reliability.generators import good_docs, text_pdf

# A few real third-party documents of different formats (read from ../shared, never copied
# into the repository; copied into a tmp folder at test time).
SHARED_PICKS = ["docx/dl__word_sample.docx", "pptx/dl__powerpoint_sample.pptx", "html/uns__fake-html-cp1252.html",
]


def kb_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update({"KB_HOME": str(home), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
                # test homes do not embed (tests/conftest.py); a test turns it on as a setting
                "KB_EMBEDDINGS": "0"})
    env.update(extra)
    return env


def kb_cmd(*args: str, shim: bool = False) -> list[str]:
    module = "tests.reliability.crashshim" if shim else "kb"
    return [sys.executable, "-m", module, *args]


def run_kb(home: Path, *args: str, timeout: float = 120, shim: bool = False, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(kb_cmd(*args, shim=shim), cwd=REPO, env=kb_env(home, **env), capture_output=True, check=False,
                          text=True, timeout=timeout)


def make_docx(path: Path, marker: str) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Digital identity in Estonia", 1)
    d.add_paragraph(f"Estonia presented e-residency and digital signatures ({marker}).")
    d.save(str(path))


def build_input(folder: Path, shared_picks: list[str] | None = None) -> dict[str, str]:
    """The corpus report + generated docs (+ some ../shared/docs when present); returns {file name:
    marker word} for the generated ones, each findable by search once ingested."""
    folder.mkdir(parents=True, exist_ok=True)
    # The corpus report only: corpus/ also holds the 192 UNGD speeches, which would make
    # every reliability run ingest them.
    report = CORPUS / "forum-2012-final-report.md"
    shutil.copy(report, folder / report.name)
    markers = good_docs(folder, n=10)
    make_docx(folder / "gen-estonia.docx", "zqdocxmarker")
    markers["gen-estonia.docx"] = "zqdocxmarker"
    (folder / "gen-uruguay.pdf").write_bytes(text_pdf(["Open government data in Uruguay", "zqpdfmarker"]))
    markers["gen-uruguay.pdf"] = "zqpdfmarker"
    if (SHARED / "docs").is_dir():
        for rel in shared_picks if shared_picks is not None else SHARED_PICKS:
            src = SHARED / "docs" / rel
            if src.is_file():
                shutil.copy(src, folder / src.name)
    return markers


def index_passage_ids(home: Path) -> Counter:
    """Every passage id stored in the live index generation, with multiplicity (read with
    Whoosh directly, so a duplicate cannot hide behind kb's own counting)."""
    from whoosh import index as windex

    root = home / "index"
    live = root / (root / "CURRENT").read_text().strip()
    ix = windex.open_dir(str(live))
    try:
        with ix.reader() as r:
            return Counter(f["id"] for _, f in r.iter_docs())
    finally:
        ix.close()


def catalog_state(home: Path) -> dict[str, Any]:
    import sqlite3

    db = sqlite3.connect(str(home / "catalog.sqlite"))
    try:
        return {
            "docs": {r[0]: r[1] for r in db.execute("SELECT id, sha256 FROM documents")},
            "passages": Counter(r[0] for r in db.execute("SELECT id FROM passages")),
            "paths": {r[0]: r[1] for r in db.execute("SELECT path, doc_id FROM document_paths")},
            "failures": {r[0]: r[1] for r in db.execute("SELECT path, reason FROM failures")},
            "pending": [r[0] for r in db.execute("SELECT id FROM documents WHERE indexed = 0")]
                       + [r[0] for r in db.execute("SELECT doc_id FROM index_deletes")],
        }
    finally:
        db.close()


def assert_consistent_after_kill(home: Path) -> None:
    """Right after a kill, before any repair: no orphan or duplicate in the index, and any
    document the index lacks is one the catalog still lists as pending work."""
    if not (home / "catalog.sqlite").exists() or not (home / "index" / "CURRENT").exists():
        return  # killed before anything was written
    cat = catalog_state(home)
    idx = index_passage_ids(home)
    dupes = [p for p, n in idx.items() if n > 1]
    assert not dupes, f"passages indexed twice after a kill: {dupes[:5]}"
    cat_passages = set(cat["passages"])
    orphans = set(idx) - cat_passages
    pending = set(cat["pending"])
    # An orphan may only belong to a document the catalog has queued for (re)indexing.
    assert all(p.split(":")[0] in pending or _doc_of(p, home) in pending for p in orphans), \
        f"orphan passages in the index not queued for repair: {sorted(orphans)[:5]}"


def _doc_of(passage_id: str, home: Path) -> str | None:
    from whoosh import index as windex

    root = home / "index"
    ix = windex.open_dir(str(root / (root / "CURRENT").read_text().strip()))
    try:
        with ix.searcher() as s:
            f = s.document(id=passage_id)
            return f["doc_id"] if f else None
    finally:
        ix.close()


def assert_complete(home: Path, folder: Path, markers: dict[str, str]) -> dict[str, Any]:
    """After a finished ingest: `kb check` passes; every file is a document or a recorded
    failure; documents are not duplicated; each catalog passage is in the index exactly
    once and nothing else is; every generated document is found by its marker."""
    from indexer.documents import document_id
    from indexer.pipeline import file_sha256
    from kb.facade import KB
    from kb.maintenance import check
    from kb.search.types import SearchRequest

    with KB({"home": str(home)}) as kb:  # what `kb check` runs, without a process start
        report = check(kb)
    assert report["ok"] and report["pending"] == 0, f"kb check failed: {report}"
    cat = catalog_state(home)
    files = sorted(p for p in folder.iterdir() if p.is_file())
    for f in files:
        key = os.path.abspath(f)
        assert key in cat["paths"] or key in cat["failures"], f"{f.name}: neither ingested nor failed (lost)"
        if key in cat["paths"]:
            assert cat["paths"][key] == document_id(file_sha256(f)), f"{f.name}: catalog holds stale content"
    for name in markers:
        assert os.path.abspath(folder / name) in cat["paths"], f"{name} failed: {cat['failures'].get(str(folder / name))}"
    assert len(set(cat["docs"].values())) == len(cat["docs"]), "two documents with the same content"
    assert set(cat["docs"]) == set(cat["paths"].values()), "documents without a path, or paths to nothing"
    idx = index_passage_ids(home)
    assert max(idx.values(), default=1) == 1, f"passages indexed twice: {[p for p, n in idx.items() if n > 1][:5]}"
    assert set(idx) == set(cat["passages"]), (f"index/catalog differ: {len(set(idx) - set(cat['passages']))} orphans, "
                                              f"{len(set(cat['passages']) - set(idx))} missing")
    # A generous time budget: this checks what the index holds, not latency (on a loaded
    # 2-core machine a first search can pass the 2 s default and come back truncated).
    with KB({"home": str(home), "query_time_budget": 30}) as kb:
        for name, marker in markers.items():
            res = kb.search(SearchRequest(q=marker))
            want = cat["paths"][os.path.abspath(folder / name)]
            assert [h.doc_id for h in res.hits][:1] == [want], \
                f"{name}: marker {marker} not found (total {res.total}, truncated {res.truncated}, {res.took_ms:.0f} ms)"
    return cat


@pytest.fixture
def crash_input(tmp_path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "input"
    return folder, build_input(folder)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """An input folder and a home holding it fully ingested (built once per module)."""
    root = tmp_path_factory.mktemp("ingested")
    folder, home = root / "input", root / "home"
    markers = build_input(folder)
    res = run_kb(home, "ingest", "--workers", "1", str(folder))
    assert res.returncode == 0, res.stderr[-1500:]
    return folder, markers, home


@pytest.fixture
def home_copy(ingested, tmp_path):
    """A private copy of the ingested home; input files changed by the test are restored."""
    folder, markers, home = ingested
    saved = {p: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    yield folder, markers, copy
    for p, data in saved.items():
        p.write_bytes(data)
