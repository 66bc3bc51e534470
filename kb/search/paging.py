"""Paging orders, backend-neutral (numpy over a result set's positions): the first k of a
relevance order without sorting every match, and the per-document grouping that pushes a
document's further passages to later pages instead of dropping them."""
from __future__ import annotations

import numpy as np


def relevance_order(docs: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indices into docs by score, best first; ties by doc number (stable across pages)."""
    return np.lexsort((docs, -scores))


def top_by_relevance(docs: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The first k of relevance_order without sorting every match. Every match
    scoring at least the k-th best score is kept before sorting: a tie across the cut (all
    zeros for a filter-only search) is then broken by doc number as in the full order, so
    consecutive pages neither overlap nor skip."""
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    cand = np.flatnonzero(scores >= kth)
    return cand[np.lexsort((docs[cand], -scores[cand]))][:k]


def group_by_document(order: np.ndarray, doc_keys: np.ndarray, cap: int) -> np.ndarray:
    """Reorder `order` (doc_keys: its passages' document keys) so that every document's first
    `cap` passages come first, then every document's next `cap`, and so on, each group in the
    original order. Nothing is dropped: a document's further passages move to later pages
    (the UI's first page shows many documents; an API client paging on still gets them all)."""
    n = len(order)
    if n == 0 or cap <= 0:
        return order
    # Narrow dtypes make numpy's stable sorts faster (int16: a radix sort): ~2x at 100k matches.
    keys = doc_keys.astype(np.int32) if doc_keys.max() < 2**31 and doc_keys.min() >= -(2**31) else doc_keys
    by_doc = np.argsort(keys, kind="stable")  # each document's passages, in result order
    sorted_keys = keys[by_doc]
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    run_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[by_doc] = np.arange(n) - run_start
    tier = rank // cap
    if tier.max() < 2**15:
        tier = tier.astype(np.int16)
    return order[np.argsort(tier, kind="stable")]
