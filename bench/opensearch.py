"""OpenSearch backend vs the Whoosh backend on the same passages, in one run.

- bulk indexing: passages/s of a full rebuild (OpenSearch: bulk API into a new versioned
  index, alias switch; Whoosh: a new generation), on the bench.latency passages;
- search latency p50/p95 for plain, phrase, filtered and faceted queries (bench.latency's
  queries), both backends in this process, alternating, after one warm-up round;
- `--relevance`: SciFact nDCG@10 and CACM MAP through the OpenSearch backend, its index
  rebuilt from bench.relevance's cached catalogs, beside the Whoosh figures of the same homes.

Needs a cluster: KB_OPENSEARCH_URL, or the one `make opensearch-up` started.

    python -m bench opensearch                  # BENCH_PASSAGES=100000 by default
    BENCH_PASSAGES=20000 python -m bench opensearch --relevance
"""
from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import latency

if TYPE_CHECKING:
    from kb.search.types import PassageRecord

ROUNDS = 3


def cluster_url() -> str | None:
    url = os.environ.get("KB_OPENSEARCH_URL", "").strip()
    if url:
        return url
    state = Path(__file__).resolve().parents[1] / ".opensearch" / "cluster.json"
    if state.is_file():
        import json

        return ",".join(json.loads(state.read_text())["urls"])
    return None


def cluster_pids() -> list[int]:
    """The node processes of the cluster `make opensearch-up` started from this checkout (for
    CPU figures); none when the cluster is elsewhere (KB_OPENSEARCH_URL names another)."""
    import json

    state = Path(__file__).resolve().parents[1] / ".opensearch" / "cluster.json"
    if not state.is_file():
        return []
    nodes = json.loads(state.read_text())
    if os.environ.get("KB_OPENSEARCH_URL", "").strip() not in ("", ",".join(nodes["urls"])):
        return []
    return [n["pid"] for n in nodes["nodes"]]


def cluster_settings(url: str, prefix: str, **extra: Any) -> Any:
    from kb import settings as settings_mod

    return settings_mod.load({"opensearch_url": url, "opensearch_index": prefix,
                              "search_backend": "opensearch", "search_cache_size": 0, **extra})


def samples(fns: list[Callable[[], Any]]) -> list[float]:
    for fn in fns:
        fn()  # warm-up round
    out = []
    for _ in range(ROUNDS):
        for fn in fns:
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000)
    return out


def build_both(recs: list[PassageRecord], url: str) -> tuple[Any, Any, float, float]:
    from kb import settings as settings_mod
    from kb.search.opensearch import open_backend as open_cluster
    from kb.search.service import SearchService
    from kb.search.whoosh import open_backend as open_whoosh

    where = Path(tempfile.mkdtemp(prefix="kb-bench-whoosh-"))
    w_settings = settings_mod.load({"home": str(where), "search_cache_size": 0})
    wix = SearchService(open_whoosh(where / "index", w_settings), w_settings)
    t0 = time.perf_counter()
    wix.rebuild(iter(recs))
    w_secs = time.perf_counter() - t0
    print(f"Whoosh: {len(recs)} passages in {w_secs:.1f}s", flush=True)
    o_settings = cluster_settings(url, "bench")
    oix = SearchService(open_cluster(o_settings), o_settings)
    t0 = time.perf_counter()
    oix.rebuild(iter(recs))
    o_secs = time.perf_counter() - t0
    print(f"OpenSearch: {len(recs)} passages in {o_secs:.1f}s "
          f"({oix.stats()['nodes']} nodes, index {oix.stats()['index']})", flush=True)
    return wix, oix, w_secs, o_secs


def latency_table(wix: Any, oix: Any, n: int, w_secs: float, o_secs: float) -> None:
    from kb.search.types import SearchRequest

    def search(ix: Any, q: str, filters: dict | None = None, facets: bool = False) -> Callable[[], Any]:
        req = SearchRequest(q=q, filters=filters or {}, per_page=20, facets=facets)
        return lambda: ix.search(req)

    kinds = {
        "plain": [(q, None, False) for q in latency.WORDS],
        "phrase": [(q, None, False) for q in latency.PHRASES],
        "filtered": [(q, {f: [v]}, False) for q in latency.WORDS[:8] for f, v in latency.FILTERS],
        "faceted": [(q, None, True) for q in latency.WORDS],
    }
    totals = [(wix.search(SearchRequest(q=q, per_page=1, facets=False)).total,
               oix.search(SearchRequest(q=q, per_page=1, facets=False)).total) for q in latency.WORDS]
    same = sum(a == b for a, b in totals)
    print(f"\n{n} passages; plain queries with the same total on both backends: {same}/{len(totals)}")
    print(f"{'':<10} {'whoosh':>10} {'opensearch':>11} {'ratio os/wh':>12}")
    print(f"{'bulk /s':<10} {n / w_secs:>10.0f} {n / o_secs:>11.0f} {(n / o_secs) / (n / w_secs):>12.2f}")
    print(f"{'kind':<10} {'wh p50':>8} {'wh p95':>8} {'os p50':>8} {'os p95':>8} {'p95 os/wh':>10}")
    for kind, cases in kinds.items():
        w = samples([search(wix, *c) for c in cases])
        o = samples([search(oix, *c) for c in cases])
        w50, w95 = statistics.median(w), latency.pct(w, 0.95)
        o50, o95 = statistics.median(o), latency.pct(o, 0.95)
        print(f"{kind:<10} {w50:>8.1f} {w95:>8.1f} {o50:>8.1f} {o95:>8.1f} {o95 / w95:>10.2f}", flush=True)


def relevance(url: str) -> None:
    from bench import relevance as rel
    from indexer.library.indexing import all_records as _all_records
    from kb.search.opensearch import open_backend as open_cluster
    from kb.search.service import SearchService

    if not (rel.EVAL / "scifact").is_dir() or not (rel.EVAL / "cacm").is_dir():
        print(f"relevance: skipped, {rel.EVAL} is absent")
        return
    print(f"\n{'collection':<10} {'metric':<8} {'whoosh':>8} {'opensearch':>11}  goal")
    for name, loader, metric, depth, goal in (("CACM", rel.cacm, "MAP", 1000, 0.32),
                                              ("SciFact", rel.scifact, "nDCG@10", 1000, 0.68)):
        kb, queries, qrels = rel._load(name, loader, False, quiet=True)
        wm = rel.evaluate(rel.run_queries(kb.index, queries, depth), qrels)
        o_settings = cluster_settings(url, f"bench-{name.lower()}")
        oix = SearchService(open_cluster(o_settings), o_settings)
        t0 = time.perf_counter()
        n = oix.rebuild(_all_records(kb))
        build = time.perf_counter() - t0
        om = rel.evaluate(rel.run_queries(oix, queries, depth), qrels)
        print(f"{name:<10} {metric:<8} {wm[metric]:>8.4f} {om[metric]:>11.4f}  >= {goal}"
              f"   ({len(queries)} queries; {n} passages indexed in {build:.1f}s)", flush=True)
        oix.backend.client.indices.delete(index=f"{oix.backend.names.alias}-*")
        oix.close()
        kb.close()


def run(args: list[str]) -> None:
    url = cluster_url()
    if not url:
        print("opensearch: skipped, no cluster: run `make opensearch-up` or set KB_OPENSEARCH_URL")
        return
    if not (latency.SHARED / "texts").is_dir():
        print(f"opensearch: skipped, {latency.SHARED / 'texts'} is absent")
        return
    n = int(os.environ.get("BENCH_PASSAGES", "100000"))
    recs = latency.passages(n)
    wix, oix, w_secs, o_secs = build_both(recs, url)
    try:
        latency_table(wix, oix, n, w_secs, o_secs)
    finally:
        oix.backend.client.indices.delete(index=f"{oix.backend.names.alias}-*")
        oix.close()
        wix.close()
        shutil.rmtree(wix.backend.path.parent, ignore_errors=True)
    if "--relevance" in args:
        relevance(url)
