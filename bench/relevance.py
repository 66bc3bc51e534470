"""Relevance: SciFact (BEIR test) nDCG@10 and CACM MAP, beside the published BM25 figures.

Both collections are indexed through the passage index (one passage per document, title
in the title field, document source_id = the collection's id) and searched with the same
batch path as `kb search --batch --by document`. Metrics are computed here (trec_eval
conventions: nDCG with graded gains and log2 discount, MAP over the top 1000, queries without
judgements skipped).

Tuning discipline: BM25 k1/b and the title weight are chosen on CACM
(``python -m bench relevance --tune``) and the chosen values, fixed in kb/search, are
reported on SciFact.

TODO-free note: the ingest pipeline is not used here because it extracts files; these
collections are already text, so `records()` turns (source_id, title, text) straight into
PassageRecords — the same shape the catalog hands the index.
"""
from __future__ import annotations

import gzip
import html
import json
import math
import re
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EVAL = SHARED / "eval" / "ir"


# -- metrics ------------------------------------------------------------------------------
def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in rels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def average_precision(ranked: list[str], rels: dict[str, int], k: int = 1000) -> float:
    relevant = {d for d, g in rels.items() if g > 0}
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for i, d in enumerate(ranked[:k]):
        if d in relevant:
            hits += 1
            total += hits / (i + 1)
    return total / len(relevant)


def recall_at(ranked: list[str], rels: dict[str, int], k: int) -> float:
    relevant = {d for d, g in rels.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def evaluate(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    qids = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
    n = len(qids) or 1
    return {
        "nDCG@10": sum(ndcg_at(run.get(q, []), qrels[q]) for q in qids) / n,
        "MAP": sum(average_precision(run.get(q, []), qrels[q]) for q in qids) / n,
        "R@100": sum(recall_at(run.get(q, []), qrels[q], 100) for q in qids) / n,
        "queries": len(qids),
    }


# -- collections --------------------------------------------------------------------------
def records(docs: Iterable[tuple[str, str, str]]) -> Iterator[dict[str, Any]]:
    for source_id, title, text in docs:
        doc_id = f"d{source_id}"
        yield {"id": f"{doc_id}-0", "doc_id": doc_id, "ordinal": 0, "text": text, "title": title, "heading": "",
               "path": "", "source_id": source_id, "type": "txt", "year": None, "lang": "en",
               "page_start": None, "page_end": None, "date": None,
               "country": [], "region": [], "org": [], "person": [], "topic": []}


def scifact() -> tuple[list[tuple[str, str, str]], list[tuple[str, str]], dict[str, dict[str, int]]]:
    base = EVAL / "scifact" / "beir-format"
    with gzip.open(base / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        docs = [(d["_id"], d.get("title") or "", d.get("text") or "") for d in map(json.loads, fh)]
    with gzip.open(base / "topics.beir-v1.0.0-scifact.test.tsv.gz", "rt", encoding="utf-8") as fh:
        queries = [tuple(line.rstrip("\n").split("\t", 1)) for line in fh if "\t" in line]
    return docs, queries, _qrels(base / "qrels.beir-v1.0.0-scifact.test.txt")


def cacm() -> tuple[list[tuple[str, str, str]], list[tuple[str, str]], dict[str, dict[str, int]]]:
    base = EVAL / "cacm"
    docs = []
    with tarfile.open(base / "cacm.tar.gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            raw = tar.extractfile(member).read().decode("utf-8", "replace")  # type: ignore[union-attr]
            text = html.unescape(re.sub(r"<[^>]+>", " ", raw))
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            docid = Path(member.name).stem  # CACM-0001
            # Whole text in the body, as Anserini's HtmlCollection does; first line as title.
            docs.append((docid, lines[0] if lines else "", " ".join(lines)))
    topics = (base / "topics.cacm.txt").read_text(encoding="utf-8", errors="replace")
    queries = [(m.group(1), " ".join(m.group(2).split()))
               for m in re.finditer(r"<DOCNO>\s*(\d+)\s*</DOCNO>(.*?)</DOC>", topics, re.DOTALL)]
    return docs, queries, _qrels(base / "qrels.cacm.txt")


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4:
            out.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return out


# -- running ------------------------------------------------------------------------------
def build(docs: list[tuple[str, str, str]], where: Path) -> Any:
    from kb import settings as settings_mod
    from kb.search.whoosh_backend import open_index

    ix = open_index(where, settings_mod.load({"home": str(where.parent)}))
    ix.rebuild(records(docs))
    return ix


def run_queries(ix: Any, queries: list[tuple[str, str]], depth: int) -> dict[str, list[str]]:
    from kb.search.batch import run_query

    return {qid: [r["id"] for r in run_query(ix, q, depth, by="document")] for qid, q in queries}


def configure(ix: Any, k1: float, b: float, title: float, combine: bool = False) -> None:
    from kb.search import engine, scoring
    from kb.search import query as qmod

    ix.weighting = scoring.weighting(k1, b)
    ix._searcher = None
    qmod.FIELD_BOOSTS["title"] = title
    engine.COMBINE_FIELDS = combine


def baselines() -> dict[str, Any]:
    try:
        return json.loads((SHARED / "eval" / "BASELINES.json").read_text())
    except OSError:
        return {}


def run(args: list[str]) -> None:
    if not (EVAL / "scifact").is_dir() or not (EVAL / "cacm").is_dir():
        print(f"relevance: skipped, {EVAL} is absent")
        return
    tune = "--tune" in args
    only_cacm = "--cacm-only" in args
    base = baselines()
    with tempfile.TemporaryDirectory(prefix="kb-relevance-") as tmp:
        t0 = time.perf_counter()
        c_docs, c_queries, c_qrels = cacm()
        c_ix = build(c_docs, Path(tmp) / "cacm" / "index")
        print(f"CACM: {len(c_docs)} docs indexed in {time.perf_counter() - t0:.1f}s; {len(c_queries)} topics")
        if tune:
            # Title weights below 1 are not tried: the product needs title words to count at
            # least as much as body words.
            grid = [(k1, b, t, c) for k1 in (0.9, 1.2) for b in (0.3, 0.4, 0.75) for t in (1.0, 1.5, 2.0)
                    for c in (False, True)]
            scored = []
            for k1, b, t, c in grid:
                configure(c_ix, k1, b, t, c)
                m = evaluate(run_queries(c_ix, c_queries, 1000), c_qrels)
                scored.append((m["MAP"], k1, b, t, c))
                print(f"  tune CACM k1={k1} b={b} title={t} bm25f={c}: MAP {m['MAP']:.4f}", flush=True)
            best = max(scored)
            print(f"best on CACM: MAP {best[0]:.4f} with k1={best[1]} b={best[2]} title={best[3]} bm25f={best[4]}")
            configure(c_ix, *best[1:])
        t1 = time.perf_counter()
        cm = evaluate(run_queries(c_ix, c_queries, 1000), c_qrels)
        c_secs = time.perf_counter() - t1
        c_ix.close()
        if only_cacm:
            print(f"CACM MAP {cm['MAP']:.4f} (published BM25 {base.get('cacm', {}).get('published', {}).get('bm25', {}).get('MAP')})")
            return

        t0 = time.perf_counter()
        s_docs, s_queries, s_qrels = scifact()
        s_ix = build(s_docs, Path(tmp) / "scifact" / "index")
        if tune:
            configure(s_ix, *best[1:])
        print(f"SciFact: {len(s_docs)} docs indexed in {time.perf_counter() - t0:.1f}s; {len(s_queries)} queries")
        t1 = time.perf_counter()
        sm = evaluate(run_queries(s_ix, s_queries, 1000), s_qrels)
        s_secs = time.perf_counter() - t1
        s_ix.close()

    pub_c = base.get("cacm", {}).get("published", {}).get("bm25", {})
    pub_s = base.get("scifact_beir_test", {}).get("published", {})
    print()
    print(f"{'collection':<10} {'metric':<8} {'kb':>7} {'published BM25':>16}  goal")
    print(f"{'CACM':<10} {'MAP':<8} {cm['MAP']:>7.4f} {pub_c.get('MAP', float('nan')):>16.4f}  >= 0.32"
          f"   ({cm['queries']} judged topics, {c_secs:.1f}s)")
    print(f"{'SciFact':<10} {'nDCG@10':<8} {sm['nDCG@10']:>7.4f} "
          f"{pub_s.get('anserini_bm25_flat', {}).get('nDCG@10', float('nan')):>16.4f}  >= 0.68"
          f"   (BEIR paper {pub_s.get('beir_paper_bm25', {}).get('nDCG@10', float('nan'))}; "
          f"{sm['queries']} queries, {s_secs:.1f}s)")
    print(f"{'SciFact':<10} {'R@100':<8} {sm['R@100']:>7.4f} "
          f"{pub_s.get('anserini_bm25_flat', {}).get('R@100', float('nan')):>16.4f}")


if __name__ == "__main__":
    run(sys.argv[1:])
