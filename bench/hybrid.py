"""Hybrid retrieval (issue 19): BM25, dense and hybrid side by side, in one run.

- SciFact (BEIR test claims) nDCG@10 and R@100, CACM MAP: bm25 and hybrid through
  `kb search --batch`'s code (kb.search.batch, documents ranked by their best passage),
  dense alone from the same vectors (kb.embed.dense), in the same run;
- the fusion method and its parameters chosen on SciFact's *training* claims (`--tune`:
  RRF k in RRF_KS, convex alpha in ALPHAS; the test claims and CACM never choose);
- the forum questions among distractors (the report + UNGD 2024 + 903 ICEGOV abstracts):
  top-1 / top-3 for bm25 and hybrid (`--questions`; embedding ~3,000 passages first);
- `--explain`: for each forum question whose right passage is not first in bm25 or not in
  hybrid's top 3, the rank of the right passage by bm25, by the vectors and fused, and what
  ranks above it (BM25 score, cosine, fused score, the passage's opening words);
- embedding passages/s with the model loaded, and the process's peak RSS;
- hybrid vs bm25 query p50/p95 at BENCH_PASSAGES (default 100k) passages, faceted: the
  passages of bench latency, with random unit vectors (what is timed - the dot products,
  the fusion, the extra backend queries - does not depend on the vectors' values;
  embedding 100k passages here would take hours).

Vectors of the bench corpora are cached on disk by model id and text hash
(bench.embedcache), so a rerun embeds nothing.

    python -m bench hybrid [--tune] [--questions [--explain]] [--no-latency] [--no-relevance] [--latency-only]

`--latency-only` skips the embedding speed and the relevance table (the latency figures of a
quiet moment on a shared machine).
"""
from __future__ import annotations

import os
import resource
import sys
import time
from typing import Any

from bench import relevance
from bench.embedcache import CachedEmbedder, ensure_vectors

RRF_KS = (10, 20, 40, 60, 100)
# Candidates per side when tuning: what `kb search --batch --by document --limit 100` fuses
# (kb.search.batch asks the service for 3 x limit passages).
TUNE_DEPTH = 300
ALPHAS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def _open(name: str, loader: Any, emb: CachedEmbedder) -> tuple[Any, list[tuple[str, str]], dict]:
    from kb.facade import KB

    corpus, queries, qrels = loader()
    kb, how = relevance.open_kb(corpus)
    kb.close()
    kb = KB({"home": str(kb.home), "embeddings": True, "search_cache_size": 0})
    ensure_vectors(kb, name, emb)
    print(f"{name}: {how}; {len(queries)} queries; {kb.catalog.count_passages()} passages with vectors", flush=True)
    return kb, queries, qrels


def _docs_of(kb: Any) -> dict[str, str]:
    """passage id -> the id the qrels use (source_id, else doc id)."""
    rows = kb.catalog.db.execute("SELECT p.id, COALESCE(d.source_id, d.id) FROM passages p JOIN documents d ON d.id = p.doc_id")
    return dict(rows.fetchall())


def _to_docs(passages: list[str], doc_of: dict[str, str], depth: int) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for p in passages:
        d = doc_of.get(p)
        if d and d not in seen:
            seen.add(d)
            out.append(d)
            if len(out) >= depth:
                break
    return out


def run_mode(kb: Any, queries: list[tuple[str, str]], depth: int, mode: str) -> dict[str, list[str]]:
    from kb.search.batch import run_batch

    return {qid: [r["id"] for r in rows] for qid, rows in run_batch(kb.index, queries, depth, by="document", mode=mode)}


def run_dense(kb: Any, queries: list[tuple[str, str]], depth: int) -> dict[str, list[str]]:
    dense = kb.index.dense
    doc_of = _docs_of(kb)
    return {qid: _to_docs([p for p, _s in dense.top(q, depth * 2)], doc_of, depth) for qid, q in queries}


def tune(emb: CachedEmbedder) -> Any:
    """Every fusion of the grid on SciFact's training claims, from one BM25 and one dense
    candidate list per claim (kb.search.fusion.fuse, as the service runs it)."""
    from kb.search import fusion
    from kb.search.types import SearchRequest

    kb, queries, qrels = _open("SciFact-train", relevance.scifact_train, emb)
    svc, dense, doc_of = kb.index, kb.index.dense, _docs_of(kb)
    lists = []
    for _qid, q in queries:
        _m, _w, hits = svc.ranked(SearchRequest(q=q, facets=False, highlight=False, max_per_document=0, mode="bm25"),
                                  TUNE_DEPTH)
        bm = [(h.passage_id, h.score) for h, _ in zip(hits, range(TUNE_DEPTH))]
        near = dense.top(q, TUNE_DEPTH)
        exact = dense.scores(q, list(dict.fromkeys([p for p, _ in bm] + [p for p, _ in near])))
        lists.append((bm, near, exact))
    grid = [fusion.Fusion("rrf", k=k) for k in RRF_KS] + [fusion.Fusion(m, alpha=a) for m in ("convex", "tmm", "cosine") for a in ALPHAS]
    scored = []
    for f in grid:
        run = {qid: _to_docs([p for p, _ in fusion.fuse(bm, near, exact, f)], doc_of, 100)
               for (qid, _q), (bm, near, exact) in zip(queries, lists)}
        m = relevance.evaluate(run, qrels)
        scored.append((m["nDCG@10"], f))
        print(f"  SciFact-train {f.method:<6} {'k=' + str(f.k) if f.method == 'rrf' else 'alpha=' + str(f.alpha):<10} "
              f"nDCG@10 {m['nDCG@10']:.4f}", flush=True)
    bm25_run = {qid: _to_docs([p for p, _ in bm], doc_of, 100) for (qid, _q), (bm, _n, _e) in zip(queries, lists)}
    best = max(scored, key=lambda t: t[0])
    print(f"  SciFact-train bm25 alone nDCG@10 {relevance.evaluate(bm25_run, qrels)['nDCG@10']:.4f}; "
          f"best fusion {best[1]} nDCG@10 {best[0]:.4f}")
    kb.close()
    return best[1]


def relevance_table(emb: CachedEmbedder, chosen: Any) -> None:
    rows = []
    for name, loader, depth in (("SciFact", relevance.scifact, 100), ("CACM", relevance.cacm, 1000)):
        kb, queries, qrels = _open(name, loader, emb)
        if chosen is not None:
            kb.index.fusion = chosen
        for mode in ("bm25", "dense", "hybrid"):
            t0 = time.perf_counter()
            run = run_dense(kb, queries, depth) if mode == "dense" else run_mode(kb, queries, depth, mode)
            m = relevance.evaluate(run, qrels)
            rows.append((name, mode, m, time.perf_counter() - t0))
            print(f"  {name} {mode}: nDCG@10 {m['nDCG@10']:.4f} R@100 {m['R@100']:.4f} MAP {m['MAP']:.4f} "
                  f"({m['queries']} queries, {time.perf_counter() - t0:.1f}s)", flush=True)
        if name == "SciFact":
            shortlist_recall(kb, queries)
        kb.close()
    print(f"\n{'collection':<9} {'mode':<7} {'nDCG@10':>8} {'R@100':>7} {'MAP':>7}")
    for name, mode, m, _secs in rows:
        print(f"{name:<9} {mode:<7} {m['nDCG@10']:>8.4f} {m['R@100']:>7.4f} {m['MAP']:>7.4f}")
    got = {(n, mo): m for n, mo, m, _ in rows}
    print(f"goals: SciFact hybrid nDCG@10 >= 0.71 (aim 0.73): {got[('SciFact', 'hybrid')]['nDCG@10']:.4f}; "
          f"CACM MAP hybrid >= bm25: {got[('CACM', 'hybrid')]['MAP']:.4f} vs {got[('CACM', 'bm25')]['MAP']:.4f}")


def shortlist_recall(kb: Any, queries: list[tuple[str, str]], k: int = 50) -> None:
    """How much of the exact top k a sign-code shortlist (kb.embed.shortlist) of a given
    share of the passages holds, on real vectors. SciFact's 6,403 passages are below the
    threshold where the service uses it, so it is forced here, at the share used from there
    on and without the service's floor of SHORTLIST_PER_K x k (which alone would be 1,000
    passages, 16% of SciFact): a harder test than the service's own case."""
    from kb.embed import dense
    from kb.embed.shortlist import Codes

    view = kb.index.dense.view()
    ids, matrix = view.vectors()
    codes = Codes.of(matrix)
    for share in sorted({0.04, dense.SHORTLIST_SHARE, 0.08}):
        size, kept, complete = int(share * len(ids)), 0, 0
        for _qid, q in queries:
            qv = kb.index.dense.query_vector(q)  # embedded (and cached) by the runs above
            want = {p for p, _s in view.top_vector(qv, k)}
            got = {ids[i] for i in codes.nearest(qv, size)} & want
            kept += len(got)
            complete += len(got) == len(want)
        print(f"  SciFact sign-code shortlist of {share:.0%} ({size} of {len(ids)} passages): "
              f"{kept / (k * len(queries)):.4f} of the exact top {k} kept; all of it for {complete}/{len(queries)} "
              f"claims", flush=True)


def embedding_speed() -> None:
    import gzip
    import json

    from kb.embed.model import get_embedder

    path = relevance.EVAL / "scifact" / "beir-format" / "corpus.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        texts = [f"{d['title']}\n{d['text']}" for d in (json.loads(next(fh)) for _ in range(64))]
    emb = get_embedder(2)
    emb.embed(texts[:4])
    t0 = time.perf_counter()
    emb.embed(texts)
    secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"embedding: {len(texts) / secs:.1f} passages/s (64 SciFact abstracts, 2 threads, load average "
          f"{os.getloadavg()[0]:.1f}); peak RSS of this process {rss:.0f} MB with the model loaded")


def latency() -> None:
    import numpy as np

    from bench import latency as lat
    from bench.common import OUT, percentiles
    from kb.embed import vectors
    from kb.embed.dense import DenseIndex
    from kb.embed.model import DIM, MODEL_ID, get_embedder
    from kb.search.types import SearchRequest
    from kb.store import Catalog

    n = int(os.environ.get("BENCH_PASSAGES", "100000"))
    recs = lat.passages(n)
    import hashlib

    key = hashlib.sha1(repr((n, [r.text for r in recs[:50]], sum(len(r.text) for r in recs))).encode()).hexdigest()[:12]
    ix = lat.build_whoosh(recs, key)
    cat_path = OUT / f"latency-{key}" / "vectors.sqlite"
    cat = Catalog(cat_path)
    if vectors.count_missing(cat.db, MODEL_ID) or cat.count_passages() != n:
        t0 = time.perf_counter()
        rng = np.random.default_rng(7)
        with cat.transaction():
            cat.db.execute("DELETE FROM documents")
            docs = sorted({r.doc_id for r in recs})
            cat.db.executemany("INSERT INTO documents (id, sha256, format, ingested_at) VALUES (?, ?, 'txt', '')",
                               [(d, d) for d in docs])
            cat.db.executemany("INSERT INTO passages (id, doc_id, ordinal, text) VALUES (?, ?, ?, '')",
                               [(r.id, r.doc_id, r.ordinal) for r in recs])
            vec = rng.standard_normal((n, DIM)).astype(np.float32)
            vec /= np.linalg.norm(vec, axis=1, keepdims=True)
            vectors.put(cat.db, MODEL_ID, zip([r.id for r in recs], vec))
        print(f"random unit vectors for {n} passages stored in {time.perf_counter() - t0:.0f}s")
    cat.close()
    ix.dense = DenseIndex(cat_path, lambda: get_embedder(2))
    t0 = time.perf_counter()
    state = ix.dense.state()
    print(f"vector matrix loaded in {time.perf_counter() - t0:.1f}s: {state.vectors} x {DIM} float32 "
          f"({state.vectors * DIM * 4 / 2**20:.0f} MB); ready={state.ready}")
    for q in lat.WORDS:
        ix.dense.query_vector(q)  # query vectors cached, as a page turn finds them
    # Wall time, and the process's CPU time a search (one thread does the work: on a machine
    # shared with other jobs, CPU time is what a quiet machine's wall time comes near).
    for facets in (False, True):
        out, cpu = {}, {}
        for mode in ("bm25", "hybrid"):
            samples, cpu_samples = [], []
            for q in lat.WORDS:
                req = SearchRequest(q=q, per_page=20, facets=facets, mode=mode)
                res = ix.search(req)
                assert res.mode == mode, res.mode_reason
                for _ in range(3):
                    c0, t0 = time.process_time(), time.perf_counter()
                    ix.search(req)
                    samples.append((time.perf_counter() - t0) * 1000)
                    cpu_samples.append((time.process_time() - c0) * 1000)
            out[mode], cpu[mode] = percentiles(samples), percentiles(cpu_samples)
        (b50, b95), (h50, h95) = out["bm25"], out["hybrid"]
        (cb50, cb95), (ch50, ch95) = cpu["bm25"], cpu["hybrid"]
        print(f"{n} passages, {'faceted' if facets else 'plain'}, 20 per page: bm25 p50 {b50:.1f} ms p95 {b95:.1f} ms; "
              f"hybrid p50 {h50:.1f} ms p95 {h95:.1f} ms; p95 ratio {h95 / b95:.2f}x (goal <= 2x, faceted); "
              f"CPU a search: bm25 p50 {cb50:.1f} p95 {cb95:.1f}, hybrid p50 {ch50:.1f} p95 {ch95:.1f} ms "
              f"(p95 ratio {ch95 / cb95:.2f}x)", flush=True)
    view = ix.dense.view()
    ev = DenseIndex(cat_path, lambda: None, shortlist_from=n + 1).view()
    qvecs = [ix.dense.query_vector(q) for q in lat.WORDS]
    for label, v in (("sign-code shortlist", view), ("exact scan", ev)):
        t0 = time.perf_counter()
        for _ in range(3):
            for qv in qvecs:
                v.top_vector(qv, 50)
        print(f"  nearest 50 by vector, {label}: {(time.perf_counter() - t0) * 1000 / (3 * len(lat.WORDS)):.2f} ms "
              f"a query", flush=True)
    print(f"  load average {os.getloadavg()[0]:.1f}")
    ix.close()


def questions_table(emb: CachedEmbedder, explain: bool = False) -> None:
    from bench import questions
    from kb.facade import KB

    if not questions.ICEGOV.is_file():
        print(f"questions: skipped, {questions.ICEGOV} is absent")
        return
    home = questions._home("distractors", [questions.REPO / "corpus", questions._icegov_jsonl()])
    with KB({"home": home, "embeddings": True}) as kb:
        ensure_vectors(kb, "questions", emb)
    os.environ["KB_EMBEDDINGS"] = "1"
    for mode in ("bm25", "hybrid"):
        os.environ["KB_SEARCH_MODE"] = mode
        s = questions.score(home)
        print(f"forum questions among distractors, {mode}: top-1 {s['top1']}/{s['n']} top-3 {s['top3']}/{s['n']} "
              f"MRR@10 {s['mrr']:.3f}; missed {', '.join(s['missed']) or '-'}", flush=True)
    os.environ.pop("KB_SEARCH_MODE", None)
    if explain:
        explain_questions(home)


def explain_questions(home: str) -> None:
    """Why a forum question misses: the right passage's rank by bm25, by the vectors alone and
    fused, and the passages fused above it."""
    import json

    from bench import questions
    from kb.facade import KB
    from kb.search.types import SearchRequest

    asked = [line.split("\t", 1) for line in (questions.FIXTURES / "forum-questions.tsv").read_text(
        encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    answers = json.loads((questions.FIXTURES / "forum-answers.json").read_text(encoding="utf-8"))
    with KB({"home": home, "embeddings": True, "search_cache_size": 0}, readonly=True) as kb:
        svc = kb.index

        def ranking(q: str, mode: str) -> list[tuple[str, float]]:
            req = SearchRequest(q=q, facets=False, highlight=False, max_per_document=0, mode=mode)
            _m, _w, hits = svc.ranked(req, 50)
            return [(h.passage_id, h.score) for h, _ in zip(hits, range(50))]

        def text(pid: str) -> str:
            return kb.catalog.passage(pid)["text"]

        for qid, q in asked:
            bm, fused = ranking(q, "bm25"), ranking(q, "hybrid")
            near = svc.dense.top(q, 100)
            right = {p for p, _s in bm + fused + near if any(s in text(p) for s in answers[qid])}
            rank = {name: next((i for i, (p, _s) in enumerate(lst, 1) if p in right), None)
                    for name, lst in (("bm25", bm), ("dense", near), ("hybrid", fused))}
            if rank["bm25"] == 1 and rank["hybrid"] and rank["hybrid"] <= 3:
                continue
            print(f"{qid} {q!r}: right passage at bm25 {rank['bm25']}, dense {rank['dense']}, hybrid {rank['hybrid']}")
            cos = svc.dense.scores(q, [p for p, _s in fused[:4] + bm[:4]])
            bm_of = dict(bm)
            for name, lst in (("bm25", bm), ("hybrid", fused)):
                for i, (p, s) in enumerate(lst[:4], 1):
                    print(f"  {name:<6} {i} {'*' if p in right else ' '} score {s:7.3f}  bm25 {bm_of.get(p, 0):6.2f}  "
                          f"cosine {cos.get(p, 0):.3f}  {text(p)[:70]!r}")


def run(args: list[str]) -> None:
    if not (relevance.EVAL / "scifact").is_dir():
        print(f"hybrid: skipped, {relevance.EVAL} is absent")
        return
    if "--latency-only" in args:
        latency()
        return
    emb = CachedEmbedder()
    embedding_speed()
    chosen = tune(emb) if "--tune" in args else None
    if "--no-relevance" not in args:
        relevance_table(emb, chosen)
    if "--questions" in args:
        questions_table(emb, "--explain" in args)
    if "--no-latency" not in args:
        latency()


if __name__ == "__main__":
    run(sys.argv[1:])
