"""Where one uncached search request's time goes (bench/api.py), in process on the Whoosh
backend, step by step as the service and the API run them: parse (spelling, query language),
match (compile, postings, scores, filters), page (the order and the page cut), snippets (the
page's stored fields and their snippets), facets (exact counts), serialise (the JSON body
as GET /api/v1/search writes it). Medians over every query, in ms."""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import orjson

from bench.common import row

STEPS = ("parse", "match", "page", "snippets", "facets", "serialise")


def cost_split(home: Path, queries: tuple[str, ...], rounds: int = 5) -> dict[str, float] | None:
    from kb.facade import KB
    from kb.search import language
    from kb.search.types import FACET_FIELDS, BackendQuery, SearchRequest
    from kb.search.whoosh.hits import highlight_terms, make_hit, page_of

    with KB({"home": str(home), "search_cache_size": 0}, readonly=True) as kb:
        svc = kb.index
        backend: Any = svc.backend
        if backend.name != "whoosh":
            print(f"  cost split: only for the whoosh backend (this KB uses {backend.name})")
            return None
        samples: dict[str, list[float]] = {s: [] for s in STEPS}
        for r in range(rounds + 1):
            for q in queries:
                req = SearchRequest(q=q, per_page=10, max_per_document=0)
                t0 = time.perf_counter()
                q_text, _corrected, _h = svc._prepare(req)
                parsed = language.parse(q_text, language.choose_mode(q_text), svc.resolver, svc.settings)
                t1 = time.perf_counter()
                bq = BackendQuery(query=parsed, limit=10, facet_fields=FACET_FIELDS)
                s = backend._searcher_now()
                cols, wq, docs, scores, _trunc = backend._matches(s, bq)
                t2 = time.perf_counter()
                picked, _next = page_of(docs, scores, "relevance", cols, 0, 10, 0)
                t3 = time.perf_counter()
                terms = highlight_terms(wq, s)
                hits = [make_hit(backend._passages_of(s), int(docs[i]), float(scores[i]), terms) for i in picked]
                t4 = time.perf_counter()
                facets = cols.count(docs, FACET_FIELDS, 10)
                t5 = time.perf_counter()
                body = {"query": q, "total": len(docs), "results": [vars(h) for h in hits],
                        "facets": {k: [{"value": v, "count": c} for v, c in vs] for k, vs in facets.items()}}
                orjson.dumps(body, default=str, option=orjson.OPT_SORT_KEYS)
                t6 = time.perf_counter()
                if r:  # the first round warms caches
                    for step, a, b in zip(STEPS, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6)):
                        samples[step].append((b - a) * 1000)
    split = {step: statistics.median(v) for step, v in samples.items()}
    total = sum(split.values())
    row("cost split of one uncached request", "median ms", "share")
    for step, ms in split.items():
        row(f"  {step}", f"{ms:.3f}", f"{ms / total:.0%}")
    row("  sum of medians", f"{total:.3f}", "")
    return split
