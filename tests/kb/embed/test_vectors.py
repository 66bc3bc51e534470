"""Passage vectors in the catalog: written at ingest after the index commit, kept by
`kb reindex`, redone on a model change, gone with their passage."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from indexer.library import ingest, reindex
from kb.embed import vectors
from kb.embed.fill import embed_missing
from kb.embed.model import MODEL_ID, Embedder, get_embedder
from kb.facade import KB
from kb.store import SCHEMA_VERSION, Catalog
from tests.conftest import CORPUS

REPORT = CORPUS / "forum-2012-final-report.md"


@pytest.fixture(scope="module")
def embedded_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("embedded")
    with KB({"home": str(home), "embeddings": True, "embed_threads": 1}) as kb:
        summary = ingest([REPORT], kb, workers=1)
    return home, summary


def test_ingest_embeds_every_passage_after_the_index_commit(embedded_home):
    home, summary = embedded_home
    assert summary["embed"]["model"] == MODEL_ID
    assert summary["embed"]["embedded"] == summary["passages"] == summary["embed"]["total"] > 10
    with KB({"home": str(home)}) as kb:
        ids, matrix = vectors.load(kb.catalog.db, MODEL_ID)
        assert sorted(ids) == sorted(p["id"] for d in kb.catalog.all_doc_ids() for p in kb.catalog.passages(d))
        assert matrix.shape == (len(ids), 384)
        assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=2e-3)  # float16 storage
        # the stored vector is the one the model gives the passage's title, heading and text
        pid, text = next(iter(_texts(kb.catalog)))
        fresh = get_embedder(1).embed([text])[0]
        assert float(fresh @ matrix[ids.index(pid)]) > 0.999


def test_reindex_and_a_second_ingest_embed_nothing(embedded_home):
    home, _ = embedded_home
    with KB({"home": str(home), "embeddings": True, "embed_threads": 1}) as kb:
        before = vectors.version(kb.catalog.db)
        reindex(kb)
        assert vectors.version(kb.catalog.db) == before
        again = ingest([REPORT], kb, workers=1)
        assert again["unchanged"] == 1 and again["embed"]["embedded"] == 0
        assert vectors.version(kb.catalog.db) == before


def test_a_model_change_embeds_everything_again(embedded_home, tmp_path):
    import shutil

    home = tmp_path / "copy"
    shutil.copytree(embedded_home[0], home)

    class NextModel(Embedder):  # the same network under another id: a new model for the catalog
        model_id = "all-MiniLM-L6-v2-onnx-int8-next"

    with KB({"home": str(home)}) as kb:
        total = kb.catalog.count_passages()
        summary = embed_missing(kb.catalog, NextModel(threads=1))
        assert (summary.embedded, summary.dropped) == (total, total)
        assert vectors.count_missing(kb.catalog.db, NextModel.model_id) == 0
        assert vectors.count_missing(kb.catalog.db, MODEL_ID) == total


def test_vectors_go_with_their_document(embedded_home, tmp_path):
    import shutil

    home = tmp_path / "copy"
    shutil.copytree(embedded_home[0], home)
    with KB({"home": str(home)}) as kb:
        doc = kb.catalog.all_doc_ids()[0]
        with kb.catalog.transaction():
            kb.catalog.delete_document(doc)
        assert vectors.load(kb.catalog.db, MODEL_ID)[0] == []


def test_embeddings_off_loads_no_model_and_stores_nothing(tmp_path):
    with KB({"home": str(tmp_path / "h"), "embeddings": False}) as kb:
        summary = ingest([REPORT], kb, workers=1)
        assert summary["embed"] is None
        assert vectors.count_missing(kb.catalog.db, MODEL_ID) == summary["passages"]


def test_a_version_4_catalog_gains_the_vector_table(tmp_path):
    path = tmp_path / "c.sqlite"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE passage_vectors")
    db.execute("PRAGMA user_version = 4")
    db.commit()
    db.close()
    cat = Catalog(path)
    assert cat.schema_version() == SCHEMA_VERSION == 5
    assert vectors.count_missing(cat.db, MODEL_ID) == 0


def _texts(catalog):
    return vectors.missing(catalog.db, "no-such-model")


def test_kb_embed_in_the_background_finishes_what_ingest_left(embedded_home, tmp_path):
    """`make run`'s way: ingest --no-embed, then `kb embed --background` returns at once and
    a detached process gives every passage its vector (bounded wait)."""
    import os
    import shutil
    import subprocess
    import sys
    import time

    home = tmp_path / "copy"
    shutil.copytree(embedded_home[0], home)
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "peru.txt").write_text("Peru digitised land titles for smallholder farmers.\n\n"
                                    "The registry is online.", encoding="utf-8")
    env = {**os.environ, "KB_HOME": str(home), "KB_EMBEDDINGS": "1", "KB_EMBED_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "kb", "ingest", "--no-embed", str(extra)], env=env, check=False,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    with KB({"home": str(home)}) as kb:
        assert vectors.count_missing(kb.catalog.db, MODEL_ID) >= 1
    started = subprocess.run([sys.executable, "-m", "kb", "embed", "--background"], env=env, check=False,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 0 and "embedding in the background" in started.stdout
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with KB({"home": str(home)}) as kb:
            if vectors.count_missing(kb.catalog.db, MODEL_ID) == 0:
                break
        time.sleep(0.5)
    else:
        pytest.fail("the background embedding did not finish within 120 s")
    deadline = time.monotonic() + 30  # the summary line is the process's last act
    while " embedded in " not in (home / "embed.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "embed: 1 passage embedded in " in (home / "embed.log").read_text()
