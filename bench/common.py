"""Small helpers shared by the benchmark modules."""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
OUT = REPO / "bench-out"


def shared_or_none(*parts: str) -> Path | None:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        print(f"  skipped: {path} not found (../shared is absent)")
        return None
    return path


def write_jsonl(path: Path, docs: list[dict[str, Any]]) -> Path:
    """Rewritten only when the content differs, so a cache key (and mtime) stays put."""
    data = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode("utf-8")
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def cached_kb(where: Path, inputs: list[Path], fresh: bool = False, label: str = "bench") -> tuple[Any, str]:
    """A KB home under `where` holding `inputs` (files or folders), ingested through the
    normal pipeline; cached by the hash of the input bytes and the extractor version, older
    homes removed. Returns (KB, how it was obtained)."""
    from indexer.extract import EXTRACTOR_VERSION
    from indexer.library import ingest, reindex
    from kb.facade import KB

    h = hashlib.sha256()
    for path in inputs:
        for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if f.is_file():
                h.update(f.read_bytes())
    h.update(EXTRACTOR_VERSION.encode())
    home = where / f"kb-{h.hexdigest()[:16]}"
    done = home / "INGESTED"
    if fresh or not done.exists():
        for old in where.glob("kb-*"):
            shutil.rmtree(old, ignore_errors=True)  # older inputs: never reused
        home.mkdir(parents=True)
        kb = KB({"home": str(home)})
        t0 = time.perf_counter()
        summary = ingest(inputs, kb, embed=False)  # vectors: bench.embedcache, cached apart
        if summary["failed"]:
            raise SystemExit(f"{label}: ingest of {inputs} failed: {summary['failures'][:3]}")
        done.write_text(json.dumps(summary, default=str))
        return kb, (f"ingested {summary['added']} documents, {summary['passages']} passages "
                    f"in {time.perf_counter() - t0:.1f}s")
    kb = KB({"home": str(home)})
    if kb.index.needs_rebuild():
        t0 = time.perf_counter()
        reindex(kb)  # schema changed since the cached ingest: rebuild from the catalog
        return kb, f"cached catalog, index rebuilt in {time.perf_counter() - t0:.1f}s"
    return kb, "cached ingest"


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    s = sorted(samples_ms)
    p50 = statistics.median(s)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return p50, p95


def row(label: str, *cells: object) -> None:
    print(f"  {label:<44}" + "".join(f"{c!s:>14}" for c in cells))


def wait_healthy(proc: subprocess.Popen, port: int, seconds: float, what: str) -> subprocess.Popen:
    """Wait until the server started as `proc` answers /api/v1/health; stop it and exit if not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/api/v1/health")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    stop_group(proc)
    raise SystemExit(f"{what} did not answer /api/v1/health within {seconds:g} s")


def stop_group(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Stop only the process group started for a server (gunicorn master and workers): TERM,
    then KILL after `timeout` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def build_demo_home(home: Path) -> str:
    """Ingest the demo corpus (the report and the UNGD 2024 speeches of corpus/) into
    `home`; returns a label saying what it holds."""
    from indexer.library import ingest
    from kb.facade import KB

    paths = [REPO / "corpus" / "forum-2012-final-report.md", REPO / "corpus" / "ungd-2024"]
    with KB({"home": str(home)}) as kb:
        ingest(paths, kb)
    return "corpus/ (report + 192 UNGD 2024 speeches)"


def process_tree(pid: int) -> list[int]:
    """pid and every process below it (a gunicorn master and its workers), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        out.append(todo.pop())
        todo.extend(children.get(out[-1], []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (those gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
