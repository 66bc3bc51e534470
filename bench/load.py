"""Load test (issue 7): `kb serve` (gunicorn) on 127.0.0.1 and a free port, driven by a Python
load generator (threads, one keep-alive http.client connection each) with a mix of search,
faceted search, document and country-page requests: first idle, then while an ingest of new
documents runs in another process. Reports req/s, p50/p99 and errors per phase and request
kind; the baseline measured in the same run is a static file (GET /static/favicon.svg) under
the same load: the cost of gunicorn + Flask + the load generator alone on this machine.

Demo KB: corpus/ (the report and the 192 UNGD 2024 speeches).
Options (after the bench name): --seconds N (default 60, also KB_LOAD_SECONDS), --connections N
(default 32), --workers N gunicorn workers (default 2), --threads N per worker (default 8),
--generator auto|wrk|python (default auto: wrk when installed, see bench/load_wrk.py; wrk's
client costs far less CPU than Python threads, so its figures say more about the server),
--cache on|off (off: the server runs with KB_SEARCH_CACHE_SIZE=0, no per-process result cache).
KB_LOAD_PREBUILT=<home folder> copies that KB instead of building the demo KB (for iterations).
Goals on a 2-core machine: >= 300 search req/s, p99 <= 200 ms, 0 errors, none during the ingest.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from bench import load_wrk
from bench.common import (
    OUT,
    REPO,
    build_demo_home,
    free_port,
    row,
    stop_group,
    wait_healthy,
)

QUERIES = ("government", "open data", "broadband", "cybersecurity", "climate change", "digital identity",
           "e-procurement", "capacity building", "sustainable development", "public administration",
           "peace security", "health", "education", "youth", "Korea", "Africa", "e-government")
COUNTRIES = ("KOR", "KAZ", "USA", "FRA", "BRA", "IND", "CHN", "ZAF", "EST", "CHL", "NGA", "JPN")
MIX = (("search", 0.5), ("faceted", 0.2), ("document", 0.15), ("country", 0.15))
GOAL_RPS, GOAL_P99_MS = 300, 200


def _options(args: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench load", add_help=False)
    p.add_argument("--seconds", type=float, default=float(os.environ.get("KB_LOAD_SECONDS", "60")))
    p.add_argument("--connections", type=int, default=int(os.environ.get("KB_LOAD_CONNECTIONS", "32")))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--generator", choices=("auto", "wrk", "python"), default=os.environ.get("KB_LOAD_GENERATOR", "auto"))
    p.add_argument("--cache", choices=("on", "off"), default="on")
    opts, _ = p.parse_known_args(args)
    return opts






def _serve(home: Path, port: int, workers: int, threads: int, cache: bool = True) -> subprocess.Popen:
    env = {**os.environ, "KB_HOME": str(home)}
    if not cache:
        env["KB_SEARCH_CACHE_SIZE"] = "0"
    proc = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port), "--workers", str(workers),
                             "--threads", str(threads)], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_healthy(proc, port, 60, "kb serve")


def _targets(port: int) -> list[str]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/api/v1/documents?" + urlencode({"per_page": 100}))
    data = json.loads(c.getresponse().read())
    items = data.get("documents") or data.get("results") or data.get("items") or []
    c.close()
    return [d["id"] for d in items if isinstance(d, dict) and "id" in d]


def _url(kind: str, rnd: random.Random, doc_ids: list[str]) -> str:
    if kind == "search":
        return "/api/v1/search?" + urlencode({"q": rnd.choice(QUERIES)})
    if kind == "faceted":
        return "/api/v1/search?" + urlencode({"q": rnd.choice(QUERIES), "country": rnd.choice(COUNTRIES),
                                              "facets": "true"})
    if kind == "document":
        return f"/api/v1/documents/{rnd.choice(doc_ids)}" if doc_ids else "/api/v1/documents"
    if kind == "country":
        return f"/countries/{rnd.choice(COUNTRIES)}"
    return "/static/favicon.svg"


def _load(port: int, seconds: float, connections: int, doc_ids: list[str], kinds=MIX) -> dict:
    """`connections` threads, each a keep-alive connection, for `seconds`."""
    stop = time.monotonic() + seconds
    lat: dict[str, list[float]] = {k: [] for k, _ in kinds}
    errors: dict[str, int] = {k: 0 for k, _ in kinds}
    samples: list[str] = []
    lock = threading.Lock()
    names = [k for k, _ in kinds]
    weights = [w for _, w in kinds]

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: dict[str, list[float]] = {k: [] for k in names}
        errs: dict[str, int] = {k: 0 for k in names}
        while time.monotonic() < stop:
            kind = rnd.choices(names, weights)[0]
            url = _url(kind, rnd, doc_ids)
            t0 = time.perf_counter()
            try:
                conn.request("GET", url)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                ok, status = False, type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine[kind].append((time.perf_counter() - t0) * 1000)
            if not ok:
                errs[kind] += 1
                if len(samples) < 5:
                    samples.append(f"{status} {url}")
        conn.close()
        with lock:
            for k in names:
                lat[k].extend(mine[k])
                errors[k] += errs[k]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"seconds": time.monotonic() - t0, "lat": lat, "errors": errors, "samples": samples}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def _report(label: str, res: dict, baseline_rps: float | None) -> dict:
    secs = res["seconds"]
    everything = [v for vs in res["lat"].values() for v in vs]
    search = res["lat"].get("search", []) + res["lat"].get("faceted", [])
    out = {"seconds": round(secs, 1), "requests": len(everything), "rps": round(len(everything) / secs, 1),
           "search_rps": round(len(search) / secs, 1), "p50_ms": round(_pct(everything, 0.5), 1),
           "p99_ms": round(_pct(everything, 0.99), 1), "errors": sum(res["errors"].values()),
           "by_kind": {}}
    print(f"  -- {label}")
    row("kind", "req/s", "p50 ms", "p99 ms", "errors")
    for kind, values in res["lat"].items():
        k = {"rps": round(len(values) / secs, 1), "p50_ms": round(_pct(values, 0.5), 1),
             "p99_ms": round(_pct(values, 0.99), 1), "errors": res["errors"][kind]}
        out["by_kind"][kind] = k
        row(kind, k["rps"], k["p50_ms"], k["p99_ms"], k["errors"])
    row("all", out["rps"], out["p50_ms"], out["p99_ms"], out["errors"])
    if baseline_rps:
        row("search req/s  (x static-file baseline)", out["search_rps"], f"{out['search_rps'] / baseline_rps:.2f}")
    for s in res["samples"]:
        print(f"    error sample: {s}")
    return out


def _ingest_batch(folder: Path, n: int = 150) -> None:
    """New documents for the ingest that runs under load (distinct content each)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = (f"# Load report {i}\n\n## Digital government {i}\n\n"
                + " ".join(f"Country {COUNTRIES[(i + j) % len(COUNTRIES)]} reported on {QUERIES[(i * 7 + j) % len(QUERIES)]} "
                           f"in session {i}-{j}." for j in range(80)) + "\n")
        (folder / f"load-{i:04d}.md").write_text(body, encoding="utf-8")


def run(args: list[str]) -> None:
    opts = _options(args)
    use_wrk = opts.generator == "wrk" or (opts.generator == "auto" and load_wrk.available())
    if opts.generator == "wrk" and not load_wrk.available():
        raise SystemExit("--generator wrk: wrk is not installed (Debian package wrk)")
    generator = "wrk" if use_wrk else "python threads"
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-load-"))
    home = tmp / "home"
    try:
        t0 = time.perf_counter()
        prebuilt = os.environ.get("KB_LOAD_PREBUILT")  # a home built by an earlier run, copied (iterations)
        if prebuilt:
            shutil.copytree(prebuilt, home)
            label = f"copy of {prebuilt}"
        else:
            label = build_demo_home(home)
        from kb.facade import KB

        with KB({"home": str(home)}) as kb:
            stats = kb.stats()
        print(f"  KB: {label}: {stats['documents']} documents, {stats['passages']} passages "
              f"(built in {time.perf_counter() - t0:.0f}s); kb serve -w {opts.workers} x {opts.threads} threads; "
              f"{opts.connections} connections, {opts.seconds:g}s per phase; mix "
              + ", ".join(f"{k} {w:.0%}" for k, w in MIX)
              + f"; load generator: {generator}; search result cache: {opts.cache}")
        port = free_port()
        proc = _serve(home, port, opts.workers, opts.threads, cache=opts.cache == "on")
        results: dict = {"kb": label, "documents": stats["documents"], "passages": stats["passages"],
                         "connections": opts.connections, "workers": opts.workers, "threads": opts.threads,
                         "generator": generator, "result_cache": opts.cache}
        try:
            doc_ids = _targets(port)
            _load(port, 3, opts.connections, doc_ids)  # warm every worker
            if use_wrk:
                paths, share = load_wrk.mix_paths(MIX, _url, doc_ids)

                def phase(label: str, seconds: float, static: bool = False, base: float | None = None) -> dict:
                    res = load_wrk.run_wrk(port, seconds, opts.connections,
                                           ["/static/favicon.svg"] if static else paths, tmp / "wrk")
                    return load_wrk.report(label, res, {"static": 1.0} if static else share, base)
            else:
                def phase(label: str, seconds: float, static: bool = False, base: float | None = None) -> dict:
                    res = _load(port, seconds, opts.connections, doc_ids,
                                **({"kinds": (("static", 1.0),)} if static else {}))
                    return _report(label, res, base)
            results["baseline_static"] = phase("baseline: GET /static/favicon.svg", min(10.0, opts.seconds), True)
            base_rps = results["baseline_static"]["rps"]
            results["idle"] = phase("idle", opts.seconds, base=base_rps)

            batch = tmp / "batch"
            _ingest_batch(batch)
            env = {**os.environ, "KB_HOME": str(home)}
            ing = subprocess.Popen([sys.executable, "-m", "kb", "ingest", "--format", "json", str(batch)], cwd=REPO,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
            t_ing = time.monotonic()
            during_label = f"while `kb ingest` of {len(list(batch.iterdir()))} new documents runs"
            results["during_ingest"] = phase(during_label, opts.seconds, base=base_rps)
            running_at_end = ing.poll() is None
            out, _ = ing.communicate(timeout=900)
            ingest_secs = time.monotonic() - t_ing
            print(f"  (ingest took {ingest_secs:.0f}s{', still running when the phase ended' if running_at_end else ''})")
            summary = json.loads(out) if out.strip().startswith(b"{") else {}
            results["ingest"] = {"seconds": round(ingest_secs, 1), "added": summary.get("added"),
                                 "overlapped_whole_phase": running_at_end, "returncode": ing.returncode}
        finally:
            stop_group(proc)
        for phase in ("idle", "during_ingest"):
            r = results[phase]
            met = r["search_rps"] >= GOAL_RPS and r["p99_ms"] <= GOAL_P99_MS and r["errors"] == 0
            print(f"  goal ({phase}): search >= {GOAL_RPS} req/s, p99 <= {GOAL_P99_MS} ms, 0 errors: "
                  f"{'met' if met else 'NOT met'} ({r['search_rps']} req/s, p99 {r['p99_ms']} ms, {r['errors']} errors)")
        OUT.mkdir(exist_ok=True)
        text = json.dumps(results, indent=1)
        (OUT / "load.json").write_text(text)  # the last run, and one file per generator and cache setting
        (OUT / f"load-{'wrk' if use_wrk else 'python'}-cache-{opts.cache}.json").write_text(text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run(sys.argv[1:])
