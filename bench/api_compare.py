"""The authoritative HTTP search comparison of bench/api.py (issue 15): kb over HTTP (result
cache off and on) against a bare Flask + SQLite FTS5 app (bench/fts5_app.py) over the same
passages, all three under gunicorn with the same configuration, on 127.0.0.1 only.

The machine is shared, so the sides are never measured one after the other: with one client
the requests go to the servers in turn (query i to each server, the order rotated every
round); with 8 and 32 clients the servers take turns in short timed slices (several rounds),
and each side's figures pool its slices. wrk drives the concurrent phases when installed
(its client costs far less CPU than Python threads), else Python threads with one keep-alive
connection each.

Also the cost split of one uncached request, in process: parse, match, facets, snippets
(the page's stored fields and snippets), serialise.
"""
from __future__ import annotations

import http.client
import os
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import load_wrk
from bench.common import REPO, cpu_seconds, row, stop_group, wait_healthy
from bench.common import free_port as _free_port

# Plain queries both sides understand the same way (every word required).
QUERIES = ("government", "open data", "broadband", "cybersecurity", "climate change", "digital identity",
           "e-procurement", "capacity building", "sustainable development", "public administration",
           "united nations", "peace security", "health", "education", "youth", "women", "refugees",
           "nuclear weapons", "artificial intelligence", "citizens participation", "interoperability",
           "cloud computing", "privacy", "digital divide", "debt", "ocean", "migration", "terrorism",
           "human rights", "poverty", "food security", "water", "energy", "pandemic", "trade",
           "agriculture", "innovation", "transparency", "corruption", "social media", "smart city",
           "e-services", "portal", "local government", "public sector", "reform", "Africa", "Ukraine")
GOALS = {"p95_ratio_max": 2.0, "rps_ratio_min": 0.5, "rps_min": 300, "p99_ms_max": 200}


def build_fts5(kb: Any, path: Path) -> int:
    """The FTS5 database of every passage kb holds (text, document title, id, year)."""
    path.unlink(missing_ok=True)
    rows = kb.catalog.db.execute("SELECT p.text, d.title, p.id, d.year FROM passages p "
                                 "JOIN documents d ON d.id = p.doc_id").fetchall()
    with sqlite3.connect(path) as db:
        db.execute("CREATE VIRTUAL TABLE p USING fts5(text, title, id UNINDEXED, year UNINDEXED, "
                   "tokenize = 'porter unicode61 remove_diacritics 2')")
        db.executemany("INSERT INTO p VALUES (?, ?, ?, ?)", [tuple(r) for r in rows])
        db.execute("INSERT INTO p(p) VALUES ('optimize')")
    return len(rows)


def gunicorn(app: str, port: int, workers: int, threads: int, env: dict[str, str],
             extra: tuple[str, ...] = (), cwd: Path = REPO, cpus: str | None = None) -> subprocess.Popen:
    """A server with kb serve's gunicorn settings (gthread, connections capped per worker),
    importing the app from `cwd` (another checkout: the --baseline side of bench/api.py),
    on the cores `cpus` only when given (taskset list, e.g. "1")."""
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "gthread",
            "--threads", str(threads), "--worker-connections", str(2 * threads), "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning", *extra, app]
    if cpus is not None:
        argv = ["taskset", "-c", cpus, *argv]
    proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **env}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_healthy(proc, port, 60, app)


def paths_for(side: str) -> list[str]:
    if side == "fts5":  # the other sides are kb servers
        return ["/search?" + urlencode({"q": q}) for q in QUERIES]
    return ["/api/v1/search?" + urlencode({"q": q, "per_page": 10}) for q in QUERIES]


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def _get(conn: http.client.HTTPConnection, path: str) -> int:
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    return resp.status


def warm(ports: dict[str, int], rounds: int = 3) -> None:
    """Every query a few times on fresh connections, so that every worker of every server has
    loaded its index and seen the passages (a keep-alive connection stays on one worker)."""
    for side, port in ports.items():
        for _ in range(rounds):
            for path in paths_for(side):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                _get(conn, path)
                conn.close()


def one_client(ports: dict[str, int], rounds: int) -> dict[str, dict[str, float]]:
    """p50/p95/p99 per side, one keep-alive connection each, requests interleaved."""
    conns = {side: http.client.HTTPConnection("127.0.0.1", port, timeout=30) for side, port in ports.items()}
    paths = {side: paths_for(side) for side in ports}
    samples: dict[str, list[float]] = {side: [] for side in ports}
    errors = dict.fromkeys(ports, 0)
    sides = list(ports)
    for r in range(rounds):
        for i in range(len(QUERIES)):
            k = (r + i) % len(sides)
            for side in sides[k:] + sides[:k]:  # who goes first rotates
                t0 = time.perf_counter()
                try:
                    status = _get(conns[side], paths[side][i])
                except (http.client.HTTPException, ConnectionError):
                    # gunicorn closes a keep-alive connection idle for 2 s (while the other
                    # sides answered): reconnect, and time the request on the new one.
                    conns[side].close()
                    conns[side] = http.client.HTTPConnection("127.0.0.1", ports[side], timeout=30)
                    t0 = time.perf_counter()
                    status = _get(conns[side], paths[side][i])
                samples[side].append((time.perf_counter() - t0) * 1000)
                errors[side] += status != 200
    for c in conns.values():
        c.close()
    return {side: {"p50_ms": statistics.median(s), "p95_ms": pct(s, 0.95), "p99_ms": pct(s, 0.99),
                   "n": len(s), "errors": errors[side]} for side, s in samples.items()}


def _threads_load(port: int, paths: list[str], clients: int, seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad, i = [], 0, k
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            conn.request("GET", paths[i % len(paths)])
            resp = conn.getresponse()
            resp.read()
            mine.append((time.perf_counter() - t0) * 1000)
            bad += resp.status != 200
            i += 7
        conn.close()
        with lock:
            lat.extend(mine)
            errors[0] += bad

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    secs = time.perf_counter() - t0
    return {"requests": len(lat), "seconds": secs, "p99_ms": pct(lat, 0.99) if lat else 0.0, "errors": errors[0]}


def concurrent(ports: dict[str, int], clients: int, slice_s: float, rounds: int, work: Path,
               pids: dict[str, Callable[[], list[int]]] | None = None) -> dict[str, dict]:
    """req/s and p99 per side under `clients` connections, the sides taking turns in slices;
    with `pids` (side -> the processes that serve it: its server, the cluster behind it), also
    the CPU milliseconds those processes spent per request, which others' load on a shared
    machine changes far less than it changes req/s."""
    use_wrk = load_wrk.available()
    pids = pids or {}
    acc = {side: {"requests": 0, "seconds": 0.0, "p99s": [], "errors": 0, "cpu": 0.0} for side in ports}
    sides = list(ports)
    for r in range(rounds):
        for side in sides[r % len(sides):] + sides[:r % len(sides)]:
            paths = paths_for(side)
            serving = pids[side]() if side in pids else []
            cpu0 = cpu_seconds(serving)
            if use_wrk:
                res = load_wrk.run_wrk(ports[side], slice_s, clients, paths, work / side)
                res = {"requests": res["requests"], "seconds": res["seconds"], "p99_ms": res["p99_ms"],
                       "errors": res["errors"]}
            else:
                res = _threads_load(ports[side], paths, clients, slice_s)
            a = acc[side]
            a["cpu"] += cpu_seconds(serving) - cpu0
            a["requests"] += res["requests"]
            a["seconds"] += res["seconds"]
            a["p99s"].append(res["p99_ms"])
            a["errors"] += res["errors"]
    # p99 of pooled slices: the worst slice's (wrk reports percentiles per run only).
    return {side: {"rps": a["requests"] / a["seconds"], "p99_ms": max(a["p99s"]), "errors": a["errors"],
                   "cpu_ms_per_req": 1000 * a["cpu"] / max(1, a["requests"]) if side in pids else None,
                   "generator": "wrk" if use_wrk else "python threads"} for side, a in acc.items()}


def report(lat: dict[str, dict], loads: dict[int, dict[str, dict]]) -> dict[str, Any]:
    base = lat["fts5"]
    row("one client, 10 per page", "p50 ms", "p95 ms", "p99 ms", "p95 x FTS5")
    for side, v in lat.items():
        row(f"{side} ({v['n']} req, {v['errors']} errors)", f"{v['p50_ms']:.2f}", f"{v['p95_ms']:.2f}",
            f"{v['p99_ms']:.2f}", f"{v['p95_ms'] / base['p95_ms']:.2f}")
    for clients, res in loads.items():
        row(f"{clients} clients ({res['fts5']['generator']})", "req/s", "p99 ms", "errors", "x FTS5 req/s",
            "CPU ms/req")
        for side, v in res.items():
            cpu = f"{v['cpu_ms_per_req']:.2f}" if v.get("cpu_ms_per_req") is not None else "-"
            row(f"  {side}", f"{v['rps']:.0f}", f"{v['p99_ms']:.1f}", v["errors"], f"{v['rps'] / res['fts5']['rps']:.2f}",
                cpu)
    kb_lat, kb8 = lat["kb-cache-off"], loads.get(8, {}).get("kb-cache-off")
    goals = {"p95_ratio": round(kb_lat["p95_ms"] / base["p95_ms"], 2)}
    if "kb-baseline" in lat:  # this checkout against another, in the same run
        old = lat["kb-baseline"]
        goals["vs_baseline"] = {"p50": round(kb_lat["p50_ms"] / old["p50_ms"], 2),
                                "p95": round(kb_lat["p95_ms"] / old["p95_ms"], 2),
                                **{f"rps{c}": round(res["kb-cache-off"]["rps"] / res["kb-baseline"]["rps"], 2)
                                   for c, res in loads.items()}}
        print("  kb-cache-off against kb-baseline (the --baseline checkout), same run: "
              + ", ".join(f"{k} {v}x" for k, v in goals["vs_baseline"].items()))
    print(f"  goal: kb p95 (cache off) <= {GOALS['p95_ratio_max']}x FTS5: {goals['p95_ratio']}x "
          f"{'met' if goals['p95_ratio'] <= GOALS['p95_ratio_max'] else 'NOT met'}")
    if kb8:
        goals["rps8_ratio"] = round(kb8["rps"] / loads[8]["fts5"]["rps"], 2)
        met = (goals["rps8_ratio"] >= GOALS["rps_ratio_min"] and kb8["rps"] >= GOALS["rps_min"]
               and kb8["p99_ms"] <= GOALS["p99_ms_max"])
        print(f"  goal: 8 clients, cache off: >= {GOALS['rps_ratio_min']}x FTS5 req/s, >= {GOALS['rps_min']} req/s, "
              f"p99 <= {GOALS['p99_ms_max']} ms: {goals['rps8_ratio']}x, {kb8['rps']:.0f} req/s, "
              f"p99 {kb8['p99_ms']:.0f} ms {'met' if met else 'NOT met'}")
    return goals


# gunicorn settings tried for `kb serve` (--configs): workers x threads, access log or not.
CONFIGS = {"w2 t8 log": (2, 8, True), "w2 t8": (2, 8, False), "w2 t4": (2, 4, False), "w3 t4": (3, 4, False),
           "w4 t2": (4, 2, False)}


def configs(home: Path, env: dict[str, str], slice_s: float, turns: int, work: Path) -> dict[str, Any]:
    """kb (cache off) under 8 and 32 clients with each of CONFIGS, taking turns like the sides."""
    procs, ports = [], {}
    try:
        for name, (w, t, log) in CONFIGS.items():
            ports[name] = port = _free_port()
            extra = ("--access-logfile", "-") if log else ()
            procs.append(gunicorn("web:create_app()", port, w, t, {**env, "KB_SEARCH_CACHE_SIZE": "0"}, extra))
        warm(ports)
        loads = {c: concurrent(ports, c, slice_s, turns, work) for c in (8, 32)}
    finally:
        for proc in procs:
            stop_group(proc)
    row("gunicorn config (kb, cache off)", "8: req/s", "8: p99 ms", "32: req/s", "32: p99 ms")
    for name in CONFIGS:
        row(f"  {name}", f"{loads[8][name]['rps']:.0f}", f"{loads[8][name]['p99_ms']:.0f}",
            f"{loads[32][name]['rps']:.0f}", f"{loads[32][name]['p99_ms']:.0f}")
    return {str(c): v for c, v in loads.items()}
