"""Fusing a BM25 ranking with a dense (vector) ranking: the methods, and the parameters
chosen on SciFact's training claims (`python -m bench hybrid --tune`; never on the test
claims or CACM, which report the result).

- rrf: reciprocal-rank fusion, score = sum over the rankings of 1 / (k + rank).
- convex: alpha * dense + (1 - alpha) * bm25, each min-max normalised over the candidates
  (a candidate BM25 did not find counts BM25's minimum; the dense score is exact for every
  candidate, since every passage has a vector).
- tmm: the same convex combination, each score divided by the best observed (its theoretical
  minimum, 0, kept: "theoretical min-max", Bruch, Gai and Ingber 2023). Unlike min-max it
  keeps how far apart the scores are: when every candidate is about as near the query (a
  collection on one subject), the dense side moves the order little, and a BM25 match on a
  rare word keeps its lead.
- cosine: BM25 divided by its best as in tmm, the dense score kept as the cosine it is
  (negative ones as 0). A cosine already lies on one scale for every query; dividing it by the
  query's best, as tmm does, stretches a weak dense ranking (best cosine 0.32 for "connect
  innovate transform": nothing in the collection is near that query) to the same 0..1 range as
  a confident one (0.68), and on the forum questions that let the dense side reorder BM25's
  clear winners on queries the model does not understand. Kept as cosines, the dense side
  weighs in as much as it is near the query.
"""
from __future__ import annotations

from dataclasses import dataclass

METHODS = ("rrf", "convex", "tmm", "cosine")


@dataclass(frozen=True)
class Fusion:
    method: str = "convex"
    alpha: float = 0.5  # convex: weight of the dense score
    k: float = 60.0  # rrf: rank offset


# Chosen on SciFact's training claims (python -m bench hybrid --tune, 505 claims, 300
# candidates a side): nDCG@10 bm25 alone 0.8632; rrf k=10/20/40/60/100: 0.8850/0.8798/
# 0.8783/0.8780/0.8775; convex alpha=0.2..0.8: 0.8722/0.8791/0.8831/0.8913/0.8939/0.8971/
# 0.8875; tmm alpha=0.2..0.8: 0.8757/0.8823/0.8910/0.8976/0.8980/0.8938/0.8806 (tmm 0.6 was
# the default until the cosine method was measured); cosine alpha=0.2..0.8: 0.8744/0.8787/
# 0.8821/0.8929/0.8987/0.9008/0.8924, the best.
DEFAULT = Fusion("cosine", alpha=0.7)


def _minmax(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    span = hi - lo
    return {k: ((v - lo) / span if span > 0 else 1.0) for k, v in scores.items()}


def _over_best(scores: dict[str, float]) -> dict[str, float]:
    best = max(scores.values(), default=0.0)
    return {k: (max(v, 0.0) / best if best > 0 else 0.0) for k, v in scores.items()}


def fuse(bm25: list[tuple[str, float]], dense: list[tuple[str, float]], dense_exact: dict[str, float],
         fusion: Fusion = DEFAULT) -> list[tuple[str, float]]:
    """bm25, dense: (id, score) best first. dense_exact: the dense score of every candidate
    (convex). Returns (id, fused score), best first; ties keep BM25's order, then dense's."""
    in_bm25 = dict(bm25)
    order = {pid: i for i, (pid, _s) in enumerate(bm25 + [d for d in dense if d[0] not in in_bm25])}
    if fusion.method == "rrf":
        fused: dict[str, float] = {}
        for ranking in (bm25, dense):
            for rank, (pid, _s) in enumerate(ranking, 1):
                fused[pid] = fused.get(pid, 0.0) + 1.0 / (fusion.k + rank)
    elif fusion.method in ("convex", "tmm", "cosine"):
        ids = list(order)
        if fusion.method == "convex":
            b = _minmax(in_bm25)
            floor = min(dense_exact.values(), default=0.0)
            d = _minmax({p: dense_exact.get(p, floor) for p in ids})
        else:
            b = _over_best(in_bm25)
            raw = {p: dense_exact.get(p, 0.0) for p in ids}
            d = _over_best(raw) if fusion.method == "tmm" else {p: max(v, 0.0) for p, v in raw.items()}
        fused = {p: fusion.alpha * d.get(p, 0.0) + (1 - fusion.alpha) * b.get(p, 0.0) for p in ids}
    else:
        raise ValueError(f"fusion method must be one of {', '.join(METHODS)}")
    return sorted(fused.items(), key=lambda kv: (-kv[1], order[kv[0]]))
