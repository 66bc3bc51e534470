"""Background jobs of the write path (a curation that re-tags many documents), with their
status in the catalog's meta table, so every web worker can answer the status URL.

A job runs in a thread of the process that accepted the request, with its own KB facade;
it takes the home's write lock like any writer. State: queued -> running -> done | failed,
with done/total while running, the result or the one-line error at the end.

A job records its owner (host, process id and the process's start time). A process that dies
mid-job cannot say so: a reader on the same host that finds the owner gone reports the job
`interrupted`, with the way to finish it (the curation itself is recorded: `kb entities
retag` re-tags with it). A job owned on another host is reported as stored (one web host
serves a catalog; see docs).
"""
from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from kb.errors import KBError
from kb.facade import KB
from kb.store import Catalog
from kb.timestamps import now_iso

Work = Callable[[KB, dict[str, Any], Callable[[dict[str, Any]], None]], dict[str, Any]]
UNFINISHED = ("queued", "running")
INTERRUPTED_HINT = ("the process running this job stopped before it finished; the curation is recorded: "
                    "run `kb entities retag` to re-tag with it")


def _key(job_id: str) -> str:
    return f"job:{job_id}"


def create(catalog: Catalog, kind: str, payload: dict[str, Any]) -> str:
    """Record a queued job; returns its id."""
    job_id = uuid.uuid4().hex[:16]
    _write(catalog, {"id": job_id, "kind": kind, "state": "queued", "created_at": now_iso(),
                     "done": 0, "total": len(payload.get("documents", [])), "payload": payload,
                     "owner": _owner()})
    return job_id


def status(catalog: Catalog, job_id: str) -> dict[str, Any] | None:
    """The job's public record (without its payload), None when there is no such job."""
    raw = catalog.get_meta(_key(job_id))
    if raw is None:
        return None
    job = json.loads(raw)
    job.pop("payload", None)
    owner = job.pop("owner", None)
    if job["state"] in UNFINISHED and owner is not None and not _alive(owner):
        job.update(state="interrupted", hint=INTERRUPTED_HINT)
    return job


def _owner() -> dict[str, Any]:
    """This process, as a job's owner: the start time tells a reused process id apart."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": _started(os.getpid())}


def _started(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux /proc), None elsewhere or gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the name before ")" may hold spaces


def _alive(owner: dict[str, Any]) -> bool:
    """False when the owner process is known to be gone: same host, and no such process or
    another one under its id. True when it cannot be told (another host)."""
    if owner.get("host") != socket.gethostname():
        return True
    pid = int(owner["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    started = owner.get("started")
    return started is None or _started(pid) in (started, None)


def start(settings: Mapping[str, Any], job_id: str, work: Work) -> threading.Thread:
    """Run a queued job in a thread; its outcome goes to the job's record."""
    thread = threading.Thread(target=_run, args=(dict(settings), job_id, work), name=f"kb-job-{job_id}",
                              daemon=True)
    thread.start()
    return thread


def _run(settings: dict[str, Any], job_id: str, work: Work) -> None:
    with KB(settings) as kb:
        job = json.loads(kb.catalog.get_meta(_key(job_id)) or "{}")
        job.update(state="running", started_at=now_iso())
        _write(kb.catalog, job)

        def progress(event: dict[str, Any]) -> None:
            if event.get("event") == "retag":
                job["done"] = event["done"]
                _write(kb.catalog, job)

        try:
            job["result"] = work(kb, job["payload"], progress)
            job["state"] = "done"
        except KBError as exc:
            job.update(state="failed", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a thread's error goes to its record, not nowhere
            job.update(state="failed", error=f"{type(exc).__name__}: {exc}")
        job["finished_at"] = now_iso()
        _write(kb.catalog, job)


def _write(catalog: Catalog, job: dict[str, Any]) -> None:
    with catalog.transaction():
        catalog.set_meta(_key(job["id"]), json.dumps(job, ensure_ascii=False))
