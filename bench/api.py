"""API v1 over HTTP (issue 6): search p50/p95 and export throughput (rows/s) against gunicorn
on 127.0.0.1 (a free port), with the same searches and exports run in process as the
baseline measured in the same run (the ratio is what HTTP + JSON + gunicorn add).

The demo KB: corpus/ plus, when ../shared is present, the 192 UN General Debate 2024
speeches, ingested with the real pipeline into a temporary home.
KB_BENCH_API_N (default 200) searches; KB_BENCH_API_WORKERS (default 2) gunicorn workers.

Then the authoritative comparison of issue 15 (bench/api_compare.py): kb over HTTP, result
cache off and on, against a bare Flask + SQLite FTS5 app on the same passages (the UNGD 2024
speeches of corpus/ and the ICEGOV abstracts of ../shared), all in one run, alternating; and
the cost split of one request (bench/api_split.py). Options: --compare-only (skip the phases
above), --backend NAME (the kb servers' search_backend), --rounds N (one-client rounds over
the queries, default 6), --slice S (seconds a side holds the load per turn, default 4),
--turns N (turns per side and client count, default 3), --workers N / --threads N (gunicorn,
every server alike; defaults those of `kb serve`). --configs: instead, kb (cache off) under
the gunicorn settings of api_compare.CONFIGS, taking turns (how `kb serve`'s were chosen).
--baseline PATH: one more side, kb (cache off) served from another checkout of kb (e.g. a
`git worktree` of the commit before a change) on the same passages (on OpenSearch, indexed
by that checkout under an index prefix of its own), so a change is measured before/after in
one run.
--pin: the OpenSearch nodes on core 0 and every gunicorn server on core 1 (taskset) for the
run, to tell how much of the figures is the two competing for the same cores.
"""
from __future__ import annotations

import argparse
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

from bench import api_compare
from bench.api_split import cost_split, opensearch_split
from bench.common import (
    OUT,
    REPO,
    SHARED,
    build_demo_home,
    cached_kb,
    free_port,
    percentiles,
    process_tree,
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


def _options(args: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench api", add_help=False)
    p.add_argument("--compare-only", action="store_true")
    p.add_argument("--configs", action="store_true", help="only: kb serve's gunicorn settings compared")
    p.add_argument("--backend", default=os.environ.get("KB_SEARCH_BACKEND", "whoosh"))
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--slice", type=float, default=4.0)
    p.add_argument("--turns", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--baseline", type=Path, default=None)
    p.add_argument("--pin", action="store_true")
    opts, _ = p.parse_known_args(args)
    return opts


def compare(opts: argparse.Namespace) -> dict:
    """kb (cache off, cache on) against the FTS5 app, one run, alternating (issue 15)."""
    from kb.search.backends import BACKENDS

    if opts.backend not in BACKENDS:
        print(f"  skipped: backend {opts.backend!r} is not in this build ({', '.join(BACKENDS)})")
        return {}
    inputs = [REPO / "corpus" / "ungd-2024"]
    icegov = SHARED / "texts" / "icegov" / "icegov-proceedings-all-editions.csv"
    if icegov.is_file():
        inputs.append(icegov)
    else:
        print(f"  note: {icegov} not found (../shared is absent): the UNGD speeches alone")
    kb, how = cached_kb(OUT / "api-compare", inputs, label="bench api")
    with kb:
        home = kb.home
        passages = api_compare.build_fts5(kb, OUT / "api-compare" / "fts5.db")
    print(f"  same {passages} passages on both sides (UNGD 2024{' + ICEGOV' if len(inputs) > 1 else ''}; {how}); "
          f"gunicorn -w {opts.workers} gthread x {opts.threads} for every server; backend {opts.backend}; "
          f"the machine is shared: sides alternate request by request (1 client) and slice by slice")
    kb_env = {"KB_HOME": str(home), "KB_SEARCH_BACKEND": opts.backend}
    base_env = {**kb_env, "KB_SEARCH_CACHE_SIZE": "0"}
    if opts.backend == "opensearch":
        cluster = _opensearch_index(home)
        if cluster is None:
            return {}
        kb_env.update(cluster)
        if opts.baseline:
            base_env.update(_opensearch_index(home, opts.baseline, "kb-bench-api-baseline") or {})
    if opts.configs:
        return {"configs": api_compare.configs(home, kb_env, opts.slice, opts.turns, OUT / "api-compare" / "wrk")}
    servers = {
        "fts5": ("bench.fts5_app:app", {"KB_FTS5_DB": str(OUT / "api-compare" / "fts5.db")}),
        "kb-cache-off": ("web:create_app()", {**kb_env, "KB_SEARCH_CACHE_SIZE": "0"}),
        "kb-cache-on": ("web:create_app()", kb_env),
    }
    if opts.baseline:
        servers["kb-baseline"] = ("web:create_app()", base_env)
    from bench.opensearch import cluster_pids

    nodes = cluster_pids() if opts.backend == "opensearch" else []
    procs, ports = [], {}
    try:
        if opts.pin:
            _pin(nodes, "0")
        for side, (app, env) in servers.items():
            ports[side] = free_port()
            cwd = opts.baseline if side == "kb-baseline" else REPO
            procs.append(api_compare.gunicorn(app, ports[side], opts.workers, opts.threads, env, cwd=cwd,
                                              cpus="1" if opts.pin else None))
        api_compare.warm(ports)
        lat = api_compare.one_client(ports, opts.rounds)
        # CPU per request: each server's processes, and for kb on OpenSearch the local cluster's nodes
        pids = {side: (lambda p=proc, s=side: process_tree(p.pid) + (nodes if s.startswith("kb") else []))
                for side, proc in zip(servers, procs)}
        loads = {c: api_compare.concurrent(ports, c, opts.slice, opts.turns, OUT / "api-compare" / "wrk", pids)
                 for c in (8, 32)}
    finally:
        for proc in procs:
            stop_group(proc)
        if opts.pin:
            _pin(nodes, f"0-{(os.cpu_count() or 1) - 1}")
    if opts.pin:
        print(f"  pinned: the OpenSearch nodes ({len(nodes)}) on core 0, every gunicorn server on core 1")
    goals = api_compare.report(lat, loads)
    split = (opensearch_split(home, kb_env, api_compare.QUERIES) if opts.backend == "opensearch"
             else cost_split(home, api_compare.QUERIES))
    return {"passages": passages, "backend": opts.backend, "workers": opts.workers, "threads": opts.threads,
            "one_client": lat, "concurrent": {str(c): v for c, v in loads.items()}, "goals": goals,
            "cost_split_ms": split}


def _pin(pids: list[int], cpus: str) -> None:
    """Every thread of the processes `pids` onto the cores `cpus` (taskset list)."""
    for pid in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True, stdout=subprocess.DEVNULL)


def _opensearch_index(home: Path, checkout: Path = REPO, prefix: str = "kb-bench-api") -> dict[str, str] | None:
    """The environment of a kb server on the OpenSearch backend, with this KB's passages
    indexed in the cluster (`kb reindex` by the code of `checkout`, into an index prefix of
    the bench's own); None (and why) without a cluster."""
    from bench.opensearch import cluster_url

    url = cluster_url()
    if url is None:
        print("  skipped: no OpenSearch cluster: run `make opensearch-up` or set KB_OPENSEARCH_URL")
        return None
    env = {"KB_OPENSEARCH_URL": url, "KB_OPENSEARCH_INDEX": prefix}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kb", "reindex"], check=True, stdout=subprocess.DEVNULL, cwd=checkout,
                   env={**os.environ, "KB_HOME": str(home), "KB_SEARCH_BACKEND": "opensearch", **env})
    print(f"  OpenSearch cluster {url}: passages indexed under {prefix} by {checkout.name} "
          f"in {time.perf_counter() - t0:.0f}s (kb reindex)")
    return env


def run(args: list[str]) -> None:
    opts = _options(args)
    if opts.compare_only or opts.configs:
        OUT.mkdir(exist_ok=True)
        (OUT / "api-compare.json").write_text(json.dumps(compare(opts), indent=1))
        return
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
        print("  -- kb against a bare Flask + SQLite FTS5 app (issue 15)")
        (OUT / "api-compare.json").write_text(json.dumps(compare(opts), indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
