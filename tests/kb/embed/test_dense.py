"""Dense ranking (kb.embed.dense, kb.embed.shortlist) on real catalogs of real float vectors:
the sign-code shortlist against brute force, and the shortlisted ranking against the exact
scan of every passage."""
from __future__ import annotations

import numpy as np
import pytest

from kb.embed import vectors
from kb.embed.dense import DenseIndex
from kb.embed.model import DIM, MODEL_ID
from kb.embed.shortlist import Codes
from kb.store import Catalog


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _clustered(n: int, clusters: int, seed: int) -> np.ndarray:
    """Unit vectors around a few centres plus a common offset, as sentence vectors are (a
    shared part, then topics)."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(DIM)
    centres = rng.standard_normal((clusters, DIM))
    return _unit(2 * common + 3 * centres[rng.integers(0, clusters, n)] + rng.standard_normal((n, DIM)))


def test_the_shortlist_is_every_passage_up_to_the_cut_off_hamming_distance():
    mat = _clustered(3000, 12, seed=1)
    codes = Codes.of(mat)
    bits = np.unpackbits(np.packbits((mat - codes.mean) > 0, axis=1), axis=1)
    rng = np.random.default_rng(2)
    for size in (1, 50, 240, 2999):
        q = _unit(rng.standard_normal(DIM) + mat[rng.integers(0, len(mat))])
        dist = (bits != ((q - codes.mean) > 0)).sum(axis=1)
        cut = np.sort(dist)[size - 1]  # the size-th nearest's distance: everyone as near is kept
        got = codes.nearest(q, size)
        assert len(got) >= size
        assert got.tolist() == np.flatnonzero(dist <= cut).tolist()


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("dense") / "catalog.sqlite"
    mat = _clustered(4000, 40, seed=3)
    ids = [f"d{i // 10}-{i % 10}" for i in range(len(mat))]
    cat = Catalog(path)
    with cat.transaction():
        cat.db.executemany("INSERT INTO documents (id, sha256, format, ingested_at) VALUES (?, ?, 'txt', '')",
                           [(f"d{d}", f"d{d}") for d in range(len(mat) // 10)])
        cat.db.executemany("INSERT INTO passages (id, doc_id, ordinal, text) VALUES (?, ?, ?, '')",
                           [(p, p.split("-")[0], int(p.split("-")[1])) for p in ids])
        vectors.put(cat.db, MODEL_ID, zip(ids, mat))
    cat.close()
    return path, vectors.from_blobs([vectors.to_blob(v) for v in mat])  # as stored: float16


def test_a_shortlisted_ranking_is_the_exact_scans_with_exact_scores(catalog):
    path, stored = catalog
    exact = DenseIndex(path, embedder=lambda: None, shortlist_from=10**9).view()
    short = DenseIndex(path, embedder=lambda: None, shortlist_from=1000).view()
    assert short.shortlisted and not exact.shortlisted and short.state.ready
    rng = np.random.default_rng(4)
    for _ in range(30):
        q = _unit(stored[rng.integers(0, len(stored))] + 0.5 * rng.standard_normal(DIM) / np.sqrt(DIM))
        for k in (10, 50):
            want, got = exact.top_vector(q, k), short.top_vector(q, k)
            assert [p for p, _s in got] == [p for p, _s in want]
            assert [s for _p, s in got] == pytest.approx([s for _p, s in want], abs=1e-5)
    # scores stay the exact cosine of the stored vectors
    ids = [p for p, _s in got]
    rows = [int(p[1:].split("-")[0]) * 10 + int(p.split("-")[1]) for p in ids]
    assert [s for _p, s in got] == pytest.approx((stored[rows] @ q).tolist(), abs=1e-5)


def test_the_catalogs_state_is_read_once_a_view(catalog):
    path, _stored = catalog
    ix = DenseIndex(path, embedder=lambda: None)
    statements: list[str] = []
    ix._connect().set_trace_callback(statements.append)
    view = ix.view()
    view.top_vector(_unit(np.ones(DIM)), 5)
    view.doc_of("d1-1")
    assert sum("FROM meta" in s for s in statements) == 1
