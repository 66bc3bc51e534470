"""Ingest on a Dask cluster: the same tasks as the local WorkerPool, run by `distributed`.

DaskPool offers the local pool's interface (run() yielding TaskResult, add() for follow-up
tasks), so the pipeline and the page-range splitting do not care where work runs. The
`kb ingest` process stays the only writer of the catalog and the index; workers only read the
originals (by path: the corpus must be on storage every worker sees) and return documents.

Tasks have no Dask dependencies: the curation the tagger needs reaches every worker once, by a
worker plugin (_Setup), which Dask also hands to workers that join or restart later; a task
names it by its key. A task that depended on a shared "setup" result would be placed by
data locality on the worker holding that result, leaving the others idle until work stealing
moved tasks to them; free of dependencies, tasks wait in the scheduler's queue, and each goes
to the first worker with a free thread, the costliest first (the task's priority is the
pool's cost estimate, as in the local pool's Feed).

Limits hold on Dask workers as in the local pool: each Dask worker thread hands its tasks to
a sandbox process it forks (workers._Worker) with the address-space cap; a task past its
time kills the sandbox, not the Dask worker. A Dask worker that dies (killed, out of memory
on the host) has its tasks rerun elsewhere by the scheduler; a task that has been on more
dying workers than `allowed-failures` allows (scheduler setting, 3 by default) runs once more
alone, and is recorded as failed if it kills workers then too.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import wait as wait_conn
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from indexer.workers import Feed, TaskResult, _one_line, _Worker
from kb.errors import InvalidInputError, KBError

_ADDRESS = re.compile(r"^(tcp|tls)://[^\s/:]+(:\d{1,5})?$")
SCHEDULER_GRACE = 10.0  # seconds without the scheduler before the ingest stops
CONNECT_TIMEOUT = 15.0  # seconds to reach the scheduler, and again for a first worker
HELD_PER_THREAD = 16  # finished results that may wait for their turn to be written, per thread
_LOCK = threading.Lock()
_READY: dict[str, str] = {"setup": ""}  # per Dask worker process: which curation its tagger has
_SETUPS: dict[str, list[dict[str, Any]]] = {}  # per Dask worker process: curations by key (plugins)
_LOCAL = threading.local()  # per Dask worker thread: its sandbox process
_TOP = 2**53  # the priority of an assembly (it completes a document the writer may wait for)


class SchedulerLostError(KBError):
    code = "scheduler_lost"


class _Setup(WorkerPlugin):
    """A Dask worker plugin: hands the ingest's curation to every worker of the cluster, those
    that join or restart later included, once per worker instead of once per task, and builds
    the tagger there before any task arrives. Built by a first task instead, it held that task
    and the others queued behind it on the worker for seconds, while other workers took later,
    smaller tasks: the order of the plan was lost."""

    def __init__(self, key: str, curation: list[dict[str, Any]]) -> None:
        self.key = key
        self.curation = curation

    async def setup(self, worker: Any = None) -> None:
        import asyncio

        # In a thread: seconds of CPU in the worker's event loop would stall its heartbeats.
        await asyncio.get_running_loop().run_in_executor(None, _warm, self.key, self.curation)

    def teardown(self, worker: Any = None) -> None:
        """Kept: another ingest with the same curation may still run; a few are remembered."""
        with _LOCK:
            while len(_SETUPS) > 8:
                _SETUPS.pop(next(iter(_SETUPS)))


def _warm(key: str, curation: list[dict[str, Any]] | None = None) -> bool:
    """Build this Dask worker process's tagger for the curation `key` (given now, or by an
    earlier plugin), once; False when the worker never received that curation."""
    with _LOCK:
        if curation is not None:
            _SETUPS[key] = curation
        if _READY["setup"] != key:
            if key not in _SETUPS:
                return False
            from indexer.warmup import warm_up

            # Built here once, before any sandbox is forked: every sandbox (and every
            # replacement of a killed one) starts with the tagger ready, as in the local pool.
            warm_up(_SETUPS[key])
            _READY["setup"] = key
    return True


def _sandbox(fn: Callable[[Any], Any], payload: Any, setup: str, timeout: float,
             memory_mb: int, grace: float) -> tuple[bool, Any, str, str, float, float]:
    """Runs on a Dask worker: one task in this thread's sandbox process, under the limits.
    setup: the key of the curation a _Setup plugin gave this worker."""
    import multiprocessing as mp

    if not _warm(setup):
        return False, None, "worker_setup", ("this Dask worker never received the ingest's setup "
                                             "(worker plugin); run the ingest again"), 0.0, 0.0
    box: _Worker | None = getattr(_LOCAL, "box", None)
    if box is not None and (getattr(box, "setup", None) != setup or not box.proc.is_alive()):
        box.kill()  # built for another curation, or died idle (its forking thread went away)
        box = None
    if box is None:
        # A Dask worker under a nanny is a daemonic process, which multiprocessing forbids to
        # have children (it could not wait for them at exit). The sandbox is a child that
        # dies with its parent anyway (workers._die_with_parent), so the rule does not apply.
        config = mp.current_process()._config  # type: ignore[attr-defined]
        daemon = config.pop("daemon", None)
        try:
            box = _Worker(mp.get_context("fork"), fn, memory_mb)
        finally:
            if daemon is not None:
                config["daemon"] = daemon
        box.setup = setup  # type: ignore[attr-defined]
        _LOCAL.box = box
    allowed = timeout + (grace if box.fresh else 0.0)
    box.fresh = False
    box.conn.send((0, payload))
    if not wait_conn([box.conn], timeout=allowed):
        box.kill()
        _LOCAL.box = None
        return False, None, "resource_limit", f"timed out after {allowed:g} s; worker killed", allowed, 0.0
    try:
        _, ok, value, code, reason, seconds, rss = box.conn.recv()
    except (EOFError, OSError):
        box.proc.join(5)
        exit_code = box.proc.exitcode
        why = f"killed by signal {-exit_code}" if exit_code and exit_code < 0 else f"exit code {exit_code}"
        box.kill()
        _LOCAL.box = None
        return False, None, "worker_crashed", f"extraction worker crashed ({why})", 0.0, 0.0
    return ok, value, code, reason, seconds, rss


def _killed_worker(fut: Any) -> bool:
    from distributed import KilledWorker

    return isinstance(fut.exception(), KilledWorker)


class DaskPool:
    """Tasks on the Dask cluster whose scheduler listens at `address` (tcp://host:port)."""

    def __init__(self, address: str, fn: Callable[[Any], Any], curation: list[dict[str, Any]],
                 timeout: float = 120.0, memory_mb: int = 1024, setup_grace: float = 0.0,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        from distributed import Client

        if not _ADDRESS.match(address):
            raise InvalidInputError(f"Dask scheduler address {address!r} is not tcp://HOST:PORT (or tls://HOST:PORT)")
        self.address = address
        self.fn = fn
        self.limits = (timeout, memory_mb, setup_grace)
        self.feed = Feed(())
        self.held: Callable[[], int] = lambda: 0  # results kept downstream (in_order)
        try:
            self.client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SchedulerLostError(f"cannot reach the Dask scheduler at {address}: {_one_line(str(exc), 160)}") from exc
        try:
            self.client.wait_for_workers(1, timeout=connect_timeout)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise SchedulerLostError(f"the Dask scheduler at {address} has no workers "
                                     f"(waited {connect_timeout:g} s); start some with `dask worker {address}`") from exc
        blob = json.dumps(curation, sort_keys=True, default=str)
        self.setup = hashlib.sha256(blob.encode()).hexdigest()[:16]
        self.token = uuid.uuid4().hex[:8]
        # Sent once per worker, not with every task, and not as a task's result that every task
        # depends on (see the module's docstring). Not scatter() either: scattered data dies
        # with the workers holding it; a plugin is given to every worker that (re)joins.
        self.plugin = f"kb-setup-{self.token}"
        try:
            self.client.register_plugin(_Setup(self.setup, curation), name=self.plugin)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise SchedulerLostError(f"cannot set up the Dask workers of {address}: {_one_line(str(exc), 160)}") from exc
        self.seq = 0

    @property
    def threads(self) -> int:
        """Worker threads in the cluster, asked of the scheduler at most every few seconds."""
        now = time.monotonic()
        if now - getattr(self, "_threads_at", 0.0) > 5.0 and self.client.status == "running":
            try:
                info = self.client.scheduler_info()["workers"]
                self._threads = sum(w.get("nthreads", 1) for w in info.values()) or 1
                self._threads_at = now
            except (OSError, TimeoutError):
                pass
        return getattr(self, "_threads", 1)

    @property
    def where(self) -> str:
        workers = self.client.scheduler_info()["workers"]
        return f"dask {self.address} ({len(workers)} workers, {self.threads} threads)"

    def add(self, key: Any, payload: Any) -> None:
        self.feed.add(key, payload)

    def _submit(self, key: Any, payload: Any) -> Any:
        self.seq += 1
        timeout, memory_mb, grace = self.limits
        # Dask runs queued tasks by priority; tasks submitted within its fifo-timeout (100 ms)
        # otherwise tie, and ran in any order: the largest file of a batch could start last
        # and run alone at the end. The priority is the Feed's cost: the costliest first.
        return self.client.submit(_sandbox, self.fn, payload, self.setup, timeout, memory_mb, grace,
                                  key=f"kb-{self.token}-{self.seq}", pure=False, priority=_priority(payload))

    def run(self, tasks: Iterable[tuple[Any, Any]]) -> Iterator[TaskResult]:
        """Run (key, payload) tasks; yield a TaskResult per task as each finishes.

        Dask blames every task a dying worker held, queued or running: a small file queued
        behind one that kills workers can reach allowed-failures too. So a task Dask gives up
        on (KilledWorker) runs once more alone, nothing else in flight, and only a file that
        kills workers when it runs alone is recorded as failed."""
        feed = self.feed = Feed(tasks)
        running: dict[Any, tuple[Any, Any, bool]] = {}  # future -> (key, payload, alone)
        suspects: deque[tuple[Any, Any]] = deque()
        try:
            while True:
                if suspects and not running:
                    key, payload = suspects.popleft()
                    running[self._submit(key, payload)] = (key, payload, True)
                # Enough queued for every thread; new files only while not too many finished
                # results wait downstream for their turn (memory), follow-ups always (the
                # document they finish may be the one the others wait for). The bound is
                # generous: the first file of the plan is the largest, and every other worker
                # finishes many small files while it runs; a tight bound idled them.
                threads = self.threads
                window = 2 * threads + 2
                while not suspects and len(running) < window:
                    task = feed.next(follow_ups_only=self.held() >= max(64, HELD_PER_THREAD * threads))
                    if task is None:
                        break
                    running[self._submit(*task)] = (*task, False)
                if not running:
                    return
                for fut in self._wait(list(running)):
                    if fut.status not in ("finished", "error", "cancelled"):
                        # Its result was on a worker that died before we fetched it: Dask
                        # runs it again. Reading it now would wait for that run (and blame
                        # the file if a worker dies then); it is reported when it is done.
                        continue
                    key, payload, alone = running.pop(fut)
                    if fut.status == "error" and _killed_worker(fut) and not alone:
                        suspects.append((key, payload))
                        continue
                    yield self._result(key, fut)
        finally:
            for fut in running:
                fut.release()

    def _wait(self, futures: list[Any]) -> set[Any]:
        """The futures done within a second; raises SchedulerLostError when the scheduler has
        been gone for SCHEDULER_GRACE seconds or cancelled the tasks."""
        from distributed import wait as dask_wait
        from distributed.client import FuturesCancelledError

        deadline = time.monotonic() + SCHEDULER_GRACE
        while True:
            try:
                with self.client.as_current():  # wait() takes the current client
                    done, _ = dask_wait(futures, timeout=1.0, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()  # nothing finished within the second: check the scheduler
            except FuturesCancelledError as exc:  # the client lost the scheduler with our tasks
                raise self._lost() from exc
            if self.client.status == "running":
                return done
            if time.monotonic() > deadline:
                raise self._lost()

    def _result(self, key: Any, fut: Any) -> TaskResult:
        if fut.status == "finished":
            ok, value, code, reason, seconds, rss = fut.result()
            return TaskResult(key, ok, value, code, reason, seconds, rss)
        if fut.status == "cancelled":
            raise self._lost()
        if _killed_worker(fut):
            return TaskResult(key, False, code="worker_crashed",
                              reason="Dask workers died each time they ran this file, alone too (allowed-failures reached)")
        exc = fut.exception()
        return TaskResult(key, False, code="extraction_failed", reason=_one_line(f"{type(exc).__name__}: {exc}"))

    def _lost(self) -> SchedulerLostError:
        return SchedulerLostError(f"lost the Dask scheduler at {self.address}; the catalog keeps every document "
                                  "written so far: run the same ingest again to resume")

    def close(self) -> None:
        # Closing after the scheduler vanished may raise anything; there is nothing left to save.
        with contextlib.suppress(Exception):
            if getattr(self, "plugin", None) and self.client.status == "running":
                self.client.unregister_worker_plugin(self.plugin)
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)


def _priority(payload: Any) -> int:
    """Dask priority (higher runs first) from the Feed's cost estimate: bytes of file to read,
    a range's share of its file; an assembly first of all."""
    cost = float(getattr(payload, "cost", 0) or 0)
    return _TOP if cost == float("inf") else int(min(cost, _TOP - 1))


def in_order(results: Iterable[TaskResult], order: list[Any], pool: DaskPool) -> Iterator[TaskResult]:
    """The results in the order of `order` (the ingest's plan), so the single writer writes
    the catalog in the same order on every run, whichever worker finishes first."""
    held: dict[Any, TaskResult] = {}
    pool.held = lambda: len(held)
    nxt = 0
    for r in results:
        held[r.key] = r
        while nxt < len(order) and order[nxt] in held:
            yield held.pop(order[nxt])
            nxt += 1
    yield from held.values()  # keys outside the plan (none expected)
