"""The evaluation metrics of bench/relevance.py on hand-computed cases."""
from __future__ import annotations

import math

import pytest

from bench.relevance import average_precision, evaluate, ndcg_at, recall_at


def test_ndcg_hand_case():
    rels = {"a": 2, "b": 1, "c": 0}
    # ranked: b (gain 1 at rank 1), x (0), a (gain 2 at rank 3)
    dcg = 1 / math.log2(2) + 2 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(["b", "x", "a"], rels) == pytest.approx(dcg / idcg)
    assert ndcg_at(["a", "b"], rels) == pytest.approx(1.0)
    assert ndcg_at(["x", "y"], rels) == 0.0
    assert ndcg_at(["x"] * 10 + ["a"], rels, k=10) == 0.0  # beyond the cut-off


def test_average_precision_hand_case():
    rels = {"a": 1, "b": 1, "c": 1}
    # relevant at ranks 1 and 3; c never retrieved: (1/1 + 2/3) / 3
    assert average_precision(["a", "x", "b"], rels) == pytest.approx((1 + 2 / 3) / 3)
    assert average_precision([], rels) == 0.0


def test_recall_and_evaluate_skip_unjudged_queries():
    qrels = {"q1": {"a": 1}, "q2": {"b": 0}}  # q2 has no relevant document: skipped
    run = {"q1": ["x", "a"], "q2": ["b"]}
    m = evaluate(run, qrels)
    assert m["queries"] == 1
    assert m["MAP"] == pytest.approx(0.5)
    assert recall_at(["x", "a"], {"a": 1}, 1) == 0.0
