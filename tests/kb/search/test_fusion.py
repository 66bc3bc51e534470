"""Fusion of a BM25 ranking with a dense ranking (kb.search.fusion)."""
from __future__ import annotations

import pytest

from kb.search.fusion import Fusion, fuse

BM25 = [("a", 12.0), ("b", 8.0), ("c", 2.0)]
DENSE = [("d", 0.9), ("b", 0.7), ("a", 0.1)]
EXACT = {"a": 0.1, "b": 0.7, "c": 0.3, "d": 0.9}


def test_rrf_sums_reciprocal_ranks():
    got = dict(fuse(BM25, DENSE, EXACT, Fusion("rrf", k=60)))
    assert got["b"] == pytest.approx(1 / 62 + 1 / 62)
    assert got["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert got["c"] == pytest.approx(1 / 63) and got["d"] == pytest.approx(1 / 61)
    # a: 1/61 + 1/63 = 0.032266 just above b: 2/62 = 0.032258
    assert [p for p, _ in fuse(BM25, DENSE, EXACT, Fusion("rrf", k=60))] == ["a", "b", "d", "c"]


def test_convex_mixes_min_max_normalised_scores():
    fused = fuse(BM25, DENSE, EXACT, Fusion("convex", alpha=0.5))
    got = dict(fused)
    # bm25 normalised: a 1, b 0.6, c 0, d (not found) 0; dense over the candidates: a 0, b 0.75, c 0.25, d 1
    assert got == pytest.approx({"a": 0.5, "b": 0.675, "c": 0.125, "d": 0.5})
    assert [p for p, _ in fused] == ["b", "a", "d", "c"]  # a and d tie: BM25's order first
    assert [p for p, _ in fuse(BM25, DENSE, EXACT, Fusion("convex", alpha=0.0))][:3] == ["a", "b", "c"]
    assert [p for p, _ in fuse(BM25, DENSE, EXACT, Fusion("convex", alpha=1.0))] == ["d", "b", "c", "a"]


def test_one_empty_side_keeps_the_other_order():
    assert [p for p, _ in fuse(BM25, [], EXACT, Fusion("rrf"))] == ["a", "b", "c"]
    assert [p for p, _ in fuse([], DENSE, EXACT, Fusion("convex"))] == ["d", "b", "a"]


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="fusion method must be one of rrf, convex"):
        fuse(BM25, DENSE, EXACT, Fusion("max"))
