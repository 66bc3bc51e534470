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


OS_STEPS = ("kb (service, parse, hits)", "client (encode, decode)", "wire (HTTP, node JSON, queueing)",
            "cluster (took)")


def opensearch_split(home: Path, env: dict[str, str], queries: tuple[str, ...], rounds: int = 5
                     ) -> dict[str, float] | None:
    """Where one uncached search's time goes on the OpenSearch backend, in process: kb's own
    work (the service, parsing, building hits), the client's (opensearch-py: encode the body,
    decode the answer), the wire (the HTTP round trip beyond what the cluster reports: its
    request parsing and JSON writing, the sockets, waiting for a core) and the cluster's `took`
    (query, aggregations, fetch and highlighting). Timed by wrapping the client's transport
    and connections of this process; medians over every query, in ms, and the answer's size."""
    from kb.facade import KB
    from kb.search.types import SearchRequest

    settings = {"home": str(home), "search_cache_size": 0, "search_backend": "opensearch",
                "opensearch_url": env["KB_OPENSEARCH_URL"], "opensearch_index": env["KB_OPENSEARCH_INDEX"]}
    with KB(settings, readonly=True) as kb:
        transport = kb.index.backend.client.transport
        clock = {"transport": 0.0, "wire": 0.0, "took": 0.0, "bytes": 0}

        def timed_transport(fn: Any) -> Any:
            def run(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                answer = fn(*args, **kwargs)
                clock["transport"] += time.perf_counter() - t0
                if isinstance(answer, dict):
                    clock["took"] += answer.get("took", 0) / 1000
                return answer
            return run

        def timed_wire(fn: Any) -> Any:
            def run(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                status, headers, raw = fn(*args, **kwargs)
                clock["wire"] += time.perf_counter() - t0
                clock["bytes"] += len(raw or "")
                return status, headers, raw
            return run

        transport.perform_request = timed_transport(transport.perform_request)
        for conn in transport.connection_pool.connections:
            conn.perform_request = timed_wire(conn.perform_request)
        samples: dict[str, list[float]] = {s: [] for s in (*OS_STEPS, "answer KB")}
        for r in range(rounds + 1):
            for q in queries:
                clock.update(transport=0.0, wire=0.0, took=0.0, bytes=0)
                t0 = time.perf_counter()
                kb.search(SearchRequest(q=q, per_page=10))
                total = time.perf_counter() - t0
                if r:  # the first round warms caches
                    parts = (total - clock["transport"], clock["transport"] - clock["wire"],
                             clock["wire"] - clock["took"], clock["took"])
                    for step, secs in zip(OS_STEPS, parts):
                        samples[step].append(secs * 1000)
                    samples["answer KB"].append(clock["bytes"] / 1000)
    split = {step: statistics.median(v) for step, v in samples.items()}
    row("cost split of one uncached request (opensearch)", "median ms", "share")
    total = sum(split[s] for s in OS_STEPS)
    for step in OS_STEPS:
        row(f"  {step}", f"{split[step]:.3f}", f"{split[step] / total:.0%}")
    row("  sum of medians", f"{total:.3f}", "")
    row("  answer size (median KB)", f"{split['answer KB']:.1f}", "")
    return split
