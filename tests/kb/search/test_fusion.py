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


def test_tmm_divides_by_the_best_and_keeps_the_spread():
    fused = fuse(BM25, DENSE, EXACT, Fusion("tmm", alpha=0.5))
    # bm25 over its best (12): a 1, b 2/3, c 1/6, d 0; dense over its best (0.9): a 1/9, b 7/9, c 1/3, d 1
    assert dict(fused) == pytest.approx({"a": (1 + 1 / 9) / 2, "b": (2 / 3 + 7 / 9) / 2,
                                         "c": (1 / 6 + 1 / 3) / 2, "d": 0.5})
    assert [p for p, _ in fused] == ["b", "a", "d", "c"]
    # near-equal dense scores (a collection on one subject) hardly move BM25's order, where
    # min-max would stretch them over the whole 0..1 range
    flat = {"a": 0.60, "b": 0.61, "c": 0.62, "d": 0.62}
    flat_dense = [("c", 0.62), ("d", 0.62), ("b", 0.61), ("a", 0.60)]
    assert [p for p, _ in fuse(BM25, flat_dense, flat, Fusion("tmm", alpha=0.5))][:3] == ["a", "b", "c"]
    assert fuse(BM25, flat_dense, flat, Fusion("convex", alpha=0.5))[0][0] != "a"


def test_cosine_keeps_the_dense_scale_so_a_weak_dense_side_moves_little():
    fused = fuse(BM25, DENSE, EXACT, Fusion("cosine", alpha=0.5))
    # bm25 over its best (12): a 1, b 2/3, c 1/6, d 0; dense as is: a 0.1, b 0.7, c 0.3, d 0.9
    assert dict(fused) == pytest.approx({"a": (1 + 0.1) / 2, "b": (2 / 3 + 0.7) / 2, "c": (1 / 6 + 0.3) / 2,
                                         "d": 0.45})
    assert [p for p, _ in fused] == ["b", "a", "d", "c"]
    # A query nothing is near (every cosine 0.3 or less, one of them negative): over its best
    # (tmm) the weak dense side spans 0..1 and overturns BM25's clear winner; as cosines it
    # only breaks near-ties.
    weak = {"a": 0.15, "b": 0.30, "c": 0.28, "d": -0.1}
    weak_dense = [("b", 0.30), ("c", 0.28), ("a", 0.15), ("d", -0.1)]
    assert [p for p, _ in fuse(BM25, weak_dense, weak, Fusion("cosine", alpha=0.6))][:3] == ["a", "b", "c"]
    assert fuse(BM25, weak_dense, weak, Fusion("tmm", alpha=0.6))[0][0] == "b"
    assert dict(fuse(BM25, weak_dense, weak, Fusion("cosine", alpha=0.6)))["d"] == 0.0  # negative: 0


def test_one_empty_side_keeps_the_other_order():
    assert [p for p, _ in fuse(BM25, [], EXACT, Fusion("rrf"))] == ["a", "b", "c"]
    assert [p for p, _ in fuse([], DENSE, EXACT, Fusion("convex"))] == ["d", "b", "a"]


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="fusion method must be one of rrf, convex, tmm, cosine"):
        fuse(BM25, DENSE, EXACT, Fusion("max"))
