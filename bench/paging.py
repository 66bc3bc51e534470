"""Cost of cutting a results page (kb.search.whoosh.hits) as the number of matches grows: the first
page in plain relevance order (top-k, the API's default), the full relevance order (any
later page, the exports' order) as the baseline, and the per-document grouping the UI uses
(every document's best three passages first; nothing dropped). Synthetic matches: scores
with many ties, passages spread over documents of 1 to 60 passages. Pure numpy, no index.

`python -m bench paging [--sizes 10000,100000,1000000] [--repeat 5]`
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import row
from kb.search.paging import group_by_document, relevance_order, top_by_relevance


def _matches(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    docs = np.sort(rng.choice(n * 4, size=n, replace=False)).astype(np.int64)  # doc numbers, as an index gives them
    scores = np.round(rng.gamma(2.0, 2.0, size=n), 2)  # rounded: many equal scores
    sizes = rng.integers(1, 61, size=n // 30 + 1)
    doc_key = np.repeat(np.arange(len(sizes)), sizes)[:n]
    if len(doc_key) < n:
        doc_key = np.concatenate([doc_key, np.arange(len(sizes), len(sizes) + n - len(doc_key))])
    return docs, scores, rng.permutation(doc_key)


def _best_ms(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0) * 1000)
    return best


def run(args: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench paging")
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--repeat", type=int, default=5)
    opts = p.parse_args(args)
    rng = np.random.default_rng(16)
    row(f"matches / measure (best of {opts.repeat})", "ms", "x full order")
    for n in (int(s) for s in opts.sizes.split(",")):
        _measure(n, rng, opts.repeat)


def _measure(n: int, rng: np.random.Generator, repeat: int) -> None:
    docs, scores, doc_key = _matches(n, rng)

    def grouped() -> np.ndarray:
        order = relevance_order(docs, scores)
        return group_by_document(order, doc_key[order], 3)

    full = _best_ms(lambda: relevance_order(docs, scores), repeat)
    first = _best_ms(lambda: top_by_relevance(docs, scores, 20), repeat)
    grp = _best_ms(grouped, repeat)
    assert len(grouped()) == n  # a reordering: every match kept
    row(f"{n:,}: full relevance order (baseline)", f"{full:.1f}", "1.00")
    row(f"{n:,}: first page, plain order (top-k)", f"{first:.1f}", f"{first / full:.2f}")
    row(f"{n:,}: grouped order, 3 per document", f"{grp:.1f}", f"{grp / full:.2f}")
