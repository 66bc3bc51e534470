"""Page server times (issue 5): p50/p95 of /, /search (plain and faceted), /documents/<id>,
/countries/<ISO3> and /countries/ through the Flask test client, against a static file
measured in the same run as the floor (the ratio says what the page adds to Flask itself).
Warm (page cache filled) and cold (emptied before each request) are both reported. Cold is
the first visit after an ingest: the country, organisation, person, topic and region pages
then read the entity summaries the catalog keeps (kb.summary) instead of grouping mentions.

The KB: corpus/ plus the 192 UN General Debate 2024 speeches of ../shared/texts, ingested
with the real pipeline (real passages, real tagger mentions), then re-labelled copies of
every document written straight to the catalog and indexed until it holds BENCH_PASSAGES
passages (default 100,000, as bench.latency). It is built once into bench-out/web-<N>/
and reused. Goals: every page p95 <= 100 ms warm, <= 200 ms cold.

    BENCH_PASSAGES=20000 python -m bench web     # a quicker run
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bench.common import REPO, SHARED, percentiles, row

GOAL_MS = 100.0
COLD_GOAL_MS = 200.0


def _copies(kb, copies: int) -> None:
    """Replicate each document with a new id and year, passages and mentions included."""
    from indexer.library import sync as sync_index
    from kb.model import Document, Mention, Passage

    cat = kb.catalog
    originals = cat.all_doc_ids()
    for n in range(1, copies + 1):
        print(f"  copy {n}/{copies}", flush=True)
        with cat.transaction():
            for doc_id in originals:
                doc = cat.get_document(doc_id)
                new_id = f"{doc_id[:12]}c{n:03d}"
                passages = [Passage(new_id, p["ordinal"], p["text"], p["heading_path"], p["page_start"],
                                    p["page_end"], kind=p["kind"] or "paragraph") for p in cat.passages(doc_id)]
                mentions = [Mention(m["type"], m["entity_id"], m["name"], m["text"], m["start"], m["end"],
                                    f"{new_id}-{m['passage_id'].rsplit('-', 1)[1]}") for m in cat.mentions(doc_id)]
                copy = Document(new_id, doc["format"], sha256=f"{n:04d}{doc['sha256'][4:]}", title=doc["title"],
                                size=doc["size"], page_count=doc["page_count"], language=doc["language"],
                                year=2000 + (n + (doc.get("year") or 0)) % 25, source_id=doc["source_id"],
                                metadata=doc["metadata"], extractor_version=doc["extractor_version"],
                                ingested_at=doc["ingested_at"])
                cat.put_document(copy, passages, mentions)
    sync_index(kb)


def _build(home: Path, target: int) -> tuple[str, int]:
    from indexer.library import ingest
    from kb.facade import KB

    paths = [REPO / "corpus" / "forum-2012-final-report.md", REPO / "corpus" / "ungd-2024"]
    label = "corpus/ (report + UNGD 2024)"
    with KB({"home": str(home)}) as kb:
        if kb.catalog.count_passages() >= target:
            return label + f", copied to {target:,}+ (reused {home.relative_to(REPO)})", 0
        t0 = time.perf_counter()
        ingest(paths, kb)
        base = kb.catalog.count_passages()
        copies = max(0, -(-target // max(base, 1)) - 1)
        if copies:
            _copies(kb, copies)
        return label + (f" x{copies + 1}" if copies else ""), round(time.perf_counter() - t0)


def _time(client, url: str, n: int, cold: bool = False) -> tuple[float, float]:
    """p50/p95 in ms. cold: the per-process page cache (kb.queries.cached) is emptied before
    every request, as on the first visit after an ingest."""
    from kb import queries

    client.get(url)  # warm: first-use caches (registry, indicators) are not page time
    samples = []
    for _ in range(n):
        if cold:
            queries._CACHE.clear()
        t0 = time.perf_counter()
        r = client.get(url)
        samples.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{url} answered {r.status_code}")
    return percentiles(samples)


def run(args: list[str]) -> None:
    from kb.facade import KB
    from web import create_app

    target = int(os.environ.get("BENCH_PASSAGES", "100000"))
    home = REPO / "bench-out" / f"web-{target}"
    home.mkdir(parents=True, exist_ok=True)
    label, seconds = _build(home, target)
    with KB({"home": str(home)}) as kb:
        stats = kb.stats()
        top = kb.catalog.entity_counts("country")
        country = top[0]["entity_id"] if top else "KAZ"
        sizes = [r[0] for r in kb.catalog.db.execute(
            "SELECT doc_id FROM passages GROUP BY doc_id ORDER BY COUNT(*) DESC")]
        doc_id, typical = sizes[0], sizes[len(sizes) // 2]
    print(f"  KB: {label}: {stats['documents']} documents, {stats['passages']} passages "
          f"(built in {seconds}s)")
    egdi = SHARED / "data" / "egov" / "egdi"
    app = create_app({"home": str(home), "indicators": str(egdi) if egdi.is_dir() else ""})
    client = app.test_client()
    n = int(os.environ.get("KB_BENCH_WEB_N", "40"))
    base50, base95 = _time(client, "/static/style.css", n)
    pages = [("/", "/"), ("/search (plain)", "/search?q=government"),
             ("/search (faceted)", f"/search?q=government&country={country}&sort=date"),
             ("/search (filter only)", f"/search?country={country}"),
             ("/documents/<id> (largest, part 1)", f"/documents/{doc_id}"),
             ("/documents/<id> (median size)", f"/documents/{typical}"),
             (f"/countries/{country}", f"/countries/{country}"), ("/countries/", "/countries/"),
             ("/topics/<top topic>", "/topics/" + (_top(home, "topic") or "cloud-computing")),
             ("/organisations/<top org>", "/organisations/" + (_top(home, "org") or "undesa")),
             ("/people/<top person>", "/people/" + (_top(home, "person") or "antonio-guterres"))]
    print(f"  {n} requests per page; 'cold' empties the page cache before each request")
    row("page", "p50 ms", "p95 ms", "cold p50", "cold p95", "x floor", "goal p95", "cold goal")
    row("/static/style.css (floor)", f"{base50:.1f}", f"{base95:.1f}", "", "", "1.0", "")
    results = {}
    for name, url in pages:
        p50, p95 = _time(client, url, n)
        c50, c95 = _time(client, url, max(5, n // 4), cold=True)
        results[name] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
                         "cold_p50_ms": round(c50, 1), "cold_p95_ms": round(c95, 1)}
        row(name, f"{p50:.1f}", f"{p95:.1f}", f"{c50:.1f}", f"{c95:.1f}", f"{p50 / base50:.0f}",
            "ok" if p95 <= GOAL_MS else "SLOW", "ok" if c95 <= COLD_GOAL_MS else "SLOW")
    out = REPO / "bench-out"
    out.mkdir(exist_ok=True)
    (out / "web.json").write_text(json.dumps({"kb": label, "passages": stats["passages"],
                                              "floor_p50_ms": round(base50, 2), "pages": results}, indent=1))


def _top(home: Path, type_: str) -> str | None:
    from kb.facade import KB

    with KB({"home": str(home)}) as kb:
        rows = kb.catalog.entity_counts(type_)
        return rows[0]["entity_id"] if rows else None
