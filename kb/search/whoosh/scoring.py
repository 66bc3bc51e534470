"""Ranking parameters and Lucene's idf (BM25F itself is computed in kb.search.whoosh.engine; this
Whoosh weighting serves the query types Whoosh still matches itself, such as sloppy phrases).

Whoosh's default idf, log(N / (df + 1)) + 1, gives common words far more weight than the
BM25 literature and Lucene/Anserini do (log(1 + (N - df + 0.5) / (df + 0.5))); with its
own idf, Whoosh lost about 0.05 nDCG@10 on SciFact against published BM25 (bench/relevance.py).
"""
from __future__ import annotations

from math import log
from typing import Any

from whoosh.scoring import BM25F

# Chosen on SciFact's training claims, reported on CACM and SciFact's test claims
# (bench/relevance.py --tune); the title and heading weight is query.FIELD_BOOSTS.
K1 = 0.9
B = 0.6


class LuceneBM25(BM25F):
    def idf(self, searcher: Any, fieldname: str, text: Any) -> float:
        n = searcher.doc_frequency(fieldname, text)
        total = searcher.doc_count_all()
        return log(1.0 + (total - n + 0.5) / (n + 0.5))


def weighting(k1: float = K1, b: float = B) -> LuceneBM25:
    return LuceneBM25(B=b, K1=k1)
