"""Shared fixtures. ../shared holds third-party data that is never copied into the repo;
tests needing it use the `shared` fixture and skip with a clear message when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.opensearch_cluster import opensearch_urls  # noqa: F401  (a fixture)

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KB_SHARED", REPO.parent / "shared"))
CORPUS = REPO / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Test homes ingest without embedding (the model runs ~20 passages/s on two cores): only the
# hybrid tests (tests/kb/embed/, tests/kb/search/test_hybrid.py) turn it on, for KBs of tens of
# passages. Set here so subprocesses (kb serve, kb ingest) inherit it.
os.environ.setdefault("KB_EMBEDDINGS", "0")


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "docs").is_dir():
        pytest.skip(f"../shared is absent (looked in {SHARED}); set KB_SHARED to run this test")
    return SHARED


@pytest.fixture
def kb_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home
