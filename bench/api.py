"""API v1 over HTTP (issue 6): search p50/p95 and export throughput (rows/s) against gunicorn
on 127.0.0.1 (a free port), with the same searches and exports run in process as the
baseline measured in the same run (the ratio is what HTTP + JSON + gunicorn add).

The demo KB: corpus/ plus, when ../shared is present, the 192 UN General Debate 2024
speeches, ingested with the real pipeline into a temporary home.
KB_BENCH_API_N (default 200) searches; KB_BENCH_API_WORKERS (default 2) gunicorn workers.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from bench.common import (
    OUT,
    REPO,
    build_demo_home,
    free_port,
    percentiles,
    row,
    stop_group,
    wait_healthy,
)

QUERIES = ("government", "open data", "broadband", "cybersecurity", "climate change", "digital identity",
           "e-procurement", "capacity building", "sustainable development", "public administration",
           "\"united nations\"", "peace AND security", "health", "education", "youth")






def _start(home: Path, port: int, workers: int) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = {**os.environ, "KB_HOME": str(home), "KB_EXPORT_RATE_PER_MINUTE": "1000"}
    proc = subprocess.Popen([str(gunicorn), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                             "web:create_app()"], cwd=REPO, env=env, start_new_session=True)
    return wait_healthy(proc, port, 30, "gunicorn")


def _http_search(port: int, n: int) -> tuple[list[float], int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # keep-alive
    samples, errors = [], 0
    for i in range(n):
        url = "/api/v1/search?" + urlencode({"q": QUERIES[i % len(QUERIES)]})
        t0 = time.perf_counter()
        conn.request("GET", url)
        resp = conn.getresponse()
        body = resp.read()
        samples.append((time.perf_counter() - t0) * 1000)
        if resp.status != 200 or "results" not in json.loads(body):
            errors += 1
    conn.close()
    return samples, errors


def _inproc_search(home: Path, n: int) -> list[float]:
    from kb.facade import KB
    from kb.search.types import SearchRequest

    samples = []
    with KB({"home": str(home)}, readonly=True) as kb:
        kb.search(SearchRequest(q="warm"))
        for i in range(n):
            t0 = time.perf_counter()
            kb.search(SearchRequest(q=QUERIES[i % len(QUERIES)]))
            samples.append((time.perf_counter() - t0) * 1000)
    return samples


def _http_export(port: int, fmt: str, q: str) -> tuple[int, float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.perf_counter()
    conn.request("GET", "/api/v1/search?" + urlencode({"q": q, "format": fmt}))
    resp = conn.getresponse()
    newlines = size = 0
    while chunk := resp.read(1 << 16):
        newlines += chunk.count(b"\n")
        size += len(chunk)
    seconds = time.perf_counter() - t0
    conn.close()
    if resp.status != 200:
        raise SystemExit(f"export {fmt} answered {resp.status}")
    # csv: comment + header rows (texts may hold newlines: count rows in process instead)
    return newlines, seconds, size


def _inproc_export(home: Path, fmt: str, q: str) -> tuple[int, float]:
    from kb.export import Provenance, build_id, export
    from kb.facade import KB
    from kb.search.types import SearchRequest

    with KB({"home": str(home)}, readonly=True) as kb:
        req = SearchRequest(q=q, facets=False, highlight=False, max_per_document=0)
        total = kb.search(SearchRequest(q=q, facets=False, per_page=1)).total
        t0 = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            sink.writelines(export(kb.index.iter_all(req), fmt, Provenance(q, build_id=build_id(kb.index))))
        return total, time.perf_counter() - t0


def run(args: list[str]) -> None:
    n = int(os.environ.get("KB_BENCH_API_N", "200"))
    workers = int(os.environ.get("KB_BENCH_API_WORKERS", "2"))
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-api-"))
    home = tmp / "home"
    try:
        t0 = time.perf_counter()
        label = build_demo_home(home)
        from kb.facade import KB

        with KB({"home": str(home)}) as kb:
            stats = kb.stats()
        print(f"  KB: {label}: {stats['documents']} documents, {stats['passages']} passages "
              f"(built in {time.perf_counter() - t0:.0f}s); gunicorn -w {workers}; {n} searches")
        port = free_port()
        proc = _start(home, port, workers)
        try:
            _http_search(port, 10)  # warm every worker's index
            http_ms, errors = _http_search(port, n)
            exports = {fmt: _http_export(port, fmt, "") for fmt in ("jsonl", "csv")}
        finally:
            stop_group(proc)
        base_ms = _inproc_search(home, n)
        h50, h95 = percentiles(http_ms)
        b50, b95 = percentiles(base_ms)
        row("measure", "p50 ms", "p95 ms", "x in-proc")
        row("in-process kb.search (baseline)", f"{b50:.2f}", f"{b95:.2f}", "1.0")
        row(f"GET /api/v1/search over HTTP ({errors} errors)", f"{h50:.2f}", f"{h95:.2f}", f"{h50 / b50:.1f}")
        row("export", "rows", "rows/s", "MB/s")
        results = {"search": {"http_p50_ms": round(h50, 2), "http_p95_ms": round(h95, 2), "errors": errors,
                              "inproc_p50_ms": round(b50, 2), "inproc_p95_ms": round(b95, 2), "n": n}}
        for fmt, (lines, secs, size) in exports.items():
            total, base_secs = _inproc_export(home, fmt, "")
            rows_http = lines if fmt == "jsonl" else total  # jsonl: one line per row, no meta line
            row(f"HTTP export {fmt}", rows_http, f"{rows_http / secs:.0f}", f"{size / secs / 1e6:.1f}")
            row(f"in-process export {fmt} (baseline)", total, f"{total / base_secs:.0f}", "")
            results[f"export_{fmt}"] = {"rows": rows_http, "http_rows_per_s": round(rows_http / secs),
                                        "inproc_rows_per_s": round(total / base_secs), "bytes": size}
        OUT.mkdir(exist_ok=True)
        (OUT / "api.json").write_text(json.dumps({"kb": label, "passages": stats["passages"], **results}, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
