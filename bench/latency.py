"""Search latency at 100k passages: kb's Whoosh index vs SQLite FTS5 on the same passages.

Passages come from ../shared/texts (UN General Debate 2024 speeches, ICEGOV abstracts) and
the forum report, split into paragraphs and replicated with varied facet values up to
BENCH_PASSAGES (default 100,000). The index is built once into bench-out/latency-<hash>/
(keyed by the content and the schema version) and reused. Timings are in process,
p50/p95 over every query of each kind after one warm-up round; FTS5 runs the same query
words in the same process as the yardstick, including its grouped facet query.

    python -m bench latency            # BENCH_PASSAGES=20000 for a quicker run
"""
from __future__ import annotations

import csv
import hashlib
import os
import random
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kb.search.types import PassageRecord

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OUT = REPO / "bench-out"

WORDS = ["digital government", "climate change", "sustainable development", "public services",
         "open data", "human rights", "security council", "economic growth", "citizens participation",
         "peace", "broadband access", "e-government", "nuclear weapons", "food security", "artificial intelligence",
         "gender equality", "debt relief", "interoperability", "cybersecurity", "smart city"]
PHRASES = ['"sustainable development"', '"climate change"', '"public services"', '"human rights"',
           '"security council"', '"open data"', '"digital government"', '"food security"']
FILTERS = [("country", "KOR"), ("country", "FRA"), ("type", "pdf"), ("topic", "open-data"), ("year", "2012")]
TYPES = ["pdf", "pptx", "docx", "html", "txt"]
TOPICS = ["open-data", "e-participation", "broadband", "cloud", "cybersecurity", "digital-divide"]
ORGS = ["undesa", "itu", "worldbank", "oecd", "undp", "unesco"]
REGIONS = ["asia", "europe", "africa", "americas", "oceania"]


def paragraphs() -> Iterator[tuple[str, str, int | None, str]]:
    """(source, text, year, country) for every paragraph of the shared texts."""
    speeches = SHARED / "texts" / "ungd-2024" / "txt"
    for path in sorted(speeches.glob("*.txt")):
        country = path.name.split("_")[0]
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
            para = " ".join(para.split())
            if len(para) > 80:
                yield path.stem, para, 2024, country
    icegov = SHARED / "texts" / "icegov" / "icegov-proceedings-all-editions.csv"
    with icegov.open(encoding="utf-8", errors="replace") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            text = " ".join((row.get("abstract") or "").split())
            if len(text) > 80:
                year = int(row["year"]) if (row.get("year") or "").isdigit() else None
                yield f"icegov-{i}", f"{row.get('title', '')}. {text}", year, ""
    report = SHARED / "corpus" / "forum-2012-final-report.md"
    if report.exists():
        for i, para in enumerate(re.split(r"\n\s*\n", report.read_text(encoding="utf-8"))):
            para = " ".join(para.split())
            if len(para) > 60:
                yield f"report-{i}", para, 2012, "KOR"


def passages(n: int) -> list[PassageRecord]:
    from kb.search.types import PassageRecord

    base = list(paragraphs())
    rng = random.Random(42)
    out = []
    countries = sorted({c for _, _, _, c in base if c}) or ["KOR"]
    rep = 0
    while len(out) < n:
        for j, (src, text, year, country) in enumerate(base):
            if len(out) >= n:
                break
            doc_id = f"r{rep}-{src}"
            out.append(PassageRecord(
                f"{doc_id}-{j}", doc_id, j, text, title=src, path=f"{src}.txt", format=TYPES[(rep + j) % len(TYPES)],
                year=(year or 2010) - (rep % 5) * 2, lang="en",
                country=[country or rng.choice(countries)] + ([rng.choice(countries)] if rng.random() < .3 else []),
                region=[rng.choice(REGIONS)], org=rng.sample(ORGS, rng.randint(0, 2)),
                topic=rng.sample(TOPICS, rng.randint(0, 2))))
        rep += 1
    return out


def build_whoosh(recs: list[PassageRecord], key: str) -> Any:
    from kb import settings as settings_mod
    from kb.search.backends import open_service

    where = OUT / f"latency-{key}"
    # The result cache would answer every repeat of a query in ~0.2 ms: warm figures are
    # meant to measure the search, so it is off here (bench load measures it on and off).
    ix = open_service(settings_mod.load({"home": str(where), "search_cache_size": 0}))
    if ix.needs_rebuild() or ix.stats()["passages"] != len(recs):
        t0 = time.perf_counter()
        ix.rebuild(iter(recs))
        secs = time.perf_counter() - t0
        print(f"built the Whoosh index: {len(recs)} passages in {secs:.0f}s ({len(recs) / secs:.0f}/s)", flush=True)
    else:
        print(f"reusing {where.relative_to(REPO)}")
    return ix


def build_fts(recs: list[PassageRecord]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE fts USING fts5(title, text, tokenize='porter unicode61 remove_diacritics 2')")
    db.execute("CREATE TABLE facets (rid INTEGER, field TEXT, value TEXT)")
    db.execute("CREATE INDEX facets_rid ON facets(rid)")
    db.execute("CREATE INDEX facets_fv ON facets(field, value, rid)")
    rows, frows = [], []
    for i, r in enumerate(recs, 1):
        rows.append((i, r.title, r.text))
        for f in ("country", "region", "org", "person", "topic"):
            frows += [(i, f, v) for v in r.entity_ids(f)]
        frows += [(i, "type", r.format), (i, "year", str(r.year)), (i, "lang", r.lang)]
    db.executemany("INSERT INTO fts(rowid, title, text) VALUES (?, ?, ?)", rows)
    db.executemany("INSERT INTO facets VALUES (?, ?, ?)", frows)
    db.commit()
    return db


def fts_match(q: str) -> str:
    if q.startswith('"'):
        return q
    return " AND ".join(f'"{w}"' for w in re.findall(r"\w+", q))


def timed(fn: Callable[[], Any], rounds: int = 3, cold: list[float] | None = None) -> list[float]:
    t0 = time.perf_counter()
    fn()  # warm-up; its time is the cold figure (postings not yet decoded/cached)
    if cold is not None:
        cold.append((time.perf_counter() - t0) * 1000)
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))]


def run(args: list[str]) -> None:
    if not (SHARED / "texts").is_dir():
        print(f"latency: skipped, {SHARED / 'texts'} is absent")
        return
    from kb.search.types import SearchRequest

    n = int(os.environ.get("BENCH_PASSAGES", "100000"))
    recs = passages(n)
    fingerprint = (n, [r.text for r in recs[:50]], sum(len(r.text) for r in recs))
    key = hashlib.sha1(repr(fingerprint).encode()).hexdigest()[:12]
    OUT.mkdir(exist_ok=True)
    ix = build_whoosh(recs, key)
    t0 = time.perf_counter()
    ix.search(SearchRequest(q="peace", per_page=10))
    print(f"first search (column caches for {n} passages): {(time.perf_counter() - t0) * 1000:.0f} ms")
    t0 = time.perf_counter()
    db = build_fts(recs)
    print(f"built FTS5 in memory in {time.perf_counter() - t0:.1f}s")

    def kb_search(q: str, filters: dict | None = None, facets: bool = False) -> Callable[[], Any]:
        req = SearchRequest(q=q, filters=filters or {}, per_page=20, facets=facets)
        return lambda: ix.search(req)

    def fts_search(q: str, filt: tuple[str, str] | None = None) -> Callable[[], Any]:
        if filt:
            # A join, not `rowid IN (subquery)`: SQLite ran the latter for minutes per query.
            sql = ("SELECT fts.rowid, bm25(fts) FROM fts JOIN facets f ON f.rid = fts.rowid "
                   "WHERE fts MATCH ? AND f.field = ? AND f.value = ? ORDER BY bm25(fts) LIMIT 20")
            params: tuple = (fts_match(q), filt[0], filt[1])
        else:
            sql, params = "SELECT rowid, bm25(fts) FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT 20", (fts_match(q),)
        return lambda: db.execute(sql, params).fetchall()

    def fts_grouped(q: str) -> Callable[[], Any]:
        sql = ("SELECT f.field, f.value, COUNT(*) FROM fts JOIN facets f ON f.rid = fts.rowid "
               "WHERE fts MATCH ? GROUP BY f.field, f.value")
        return lambda: db.execute(sql, (fts_match(q),)).fetchall()

    cases: dict[str, tuple[list[Callable[[], Any]], list[Callable[[], Any]]]] = {
        "plain": ([kb_search(q) for q in WORDS], [fts_search(q) for q in WORDS]),
        "phrase": ([kb_search(q) for q in PHRASES], [fts_search(q) for q in PHRASES]),
        "filtered": ([kb_search(q, {f: [v]}) for q in WORDS[:8] for f, v in FILTERS],
                     [fts_search(q, (f, v)) for q in WORDS[:8] for f, v in FILTERS]),
        "faceted": ([kb_search(q, facets=True) for q in WORDS], [fts_grouped(q) for q in WORDS]),
    }
    totals = [ix.search(SearchRequest(q=q, per_page=1, facets=False)).total for q in WORDS]
    print(f"\n{n} passages; plain queries match {min(totals)}..{max(totals)} passages (median {int(statistics.median(totals))})")
    print(f"{'kind':<10} {'kb p50':>8} {'kb p95':>8} {'fts5 p50':>9} {'fts5 p95':>9} {'p95 ratio':>10}"
          f" {'kb cold p50':>12} {'kb cold p95':>12}")
    for kind, (kbs, ftss) in cases.items():
        cold: list[float] = []
        k = [t for fn in kbs for t in timed(fn, cold=cold)]
        f = [t for fn in ftss for t in timed(fn)]
        print(f"{kind:<10} {pct(k, .5):>7.1f}ms {pct(k, .95):>7.1f}ms {pct(f, .5):>8.1f}ms {pct(f, .95):>8.1f}ms "
              f"{pct(k, .95) / max(pct(f, .95), 1e-6):>9.1f}x {pct(cold, .5):>10.1f}ms {pct(cold, .95):>10.1f}ms",
              flush=True)
    print("warm: the same query again (decoded postings cached); cold: its first run in this process")
    print("goal: faceted p95 <= 50 ms and within 2x of FTS5's grouped query")
    ix.close()


if __name__ == "__main__":
    run(sys.argv[1:])
