"""Worker processes with a per-task time limit and memory cap.

A task that runs past its time is killed with its process, which is replaced; a task that
exhausts its address-space cap raises MemoryError in the worker (or the worker dies). Either
way the caller gets a failure for that task and the batch goes on. concurrent.futures
cannot do this: killing one of its workers breaks the whole pool.
"""
from __future__ import annotations

import heapq
import multiprocessing as mp
import os
import resource
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from kb.errors import KBError


@dataclass
class TaskResult:
    key: Any
    ok: bool
    value: Any = None  # the function's return value when ok
    code: str = ""  # error code when not ok
    reason: str = ""  # one-line reason when not ok
    seconds: float = 0.0
    max_rss_mb: float = 0.0  # peak RSS of the worker process so far


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this worker when the parent dies. Without it a worker
    orphaned by a crashed ingest lives on (it holds a copy of the parent's pipe end, so it
    never sees EOF) and keeps the inherited ingest lock: every later ingest is refused."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _address_space() -> int:
    """Bytes of address space this process has mapped (Linux; 0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _worker_main(conn: Connection, fn: Callable[[Any], Any], memory_mb: int,
                 parent_end: Connection | None = None, parent_pid: int | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _die_with_parent()
    if parent_pid is not None and os.getppid() != parent_pid:
        return  # the parent died before the death signal was armed
    if parent_end is not None:
        parent_end.close()  # so that the parent's death reads as EOF here
    if memory_mb:
        # The cap bounds what a file's extraction adds to the address space the worker was
        # forked with: an absolute cap counted the parent's mappings too, and a parent that
        # had loaded the embedding model (an ingest's embed step: ~600 MB of onnxruntime
        # mappings) left its next workers too little to load a shared library; every file
        # then failed.
        limit = _address_space() + memory_mb * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        key, payload = task
        t0 = time.perf_counter()
        try:
            value = fn(payload)
            reply = (key, True, value, "", "")
        except MemoryError:
            reply = (key, False, None, "resource_limit", f"memory limit exceeded ({memory_mb} MiB)")
        except KBError as exc:
            reply = (key, False, None, exc.code, _one_line(str(exc)))
        except Exception as exc:  # noqa: BLE001 - any parser bug becomes a recorded failure
            where = traceback.extract_tb(exc.__traceback__)[-1]
            reply = (key, False, None, "extraction_failed",
                     _one_line(f"{type(exc).__name__}: {exc} (at {os.path.basename(where.filename)}:{where.lineno})"))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        try:
            conn.send(reply + (time.perf_counter() - t0, rss))
        except MemoryError:
            conn.send((key, False, None, "resource_limit", "result too large for the memory limit", 0.0, rss))


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Worker:
    def __init__(self, ctx: Any, fn: Callable[[Any], Any], memory_mb: int) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, fn, memory_mb, self.conn, os.getpid()),
                                daemon=True)
        self.proc.start()
        child.close()
        self.task: tuple[Any, float] | None = None  # (key, deadline)
        self.fresh = True  # no task yet: the first one also pays the process's one-time setup
        self.allowed = 0.0  # seconds the current task may take

    def kill(self) -> None:
        try:
            self.proc.kill()
        except (OSError, AttributeError):
            pass
        self.proc.join(5)
        self.conn.close()


class Feed:
    """The tasks for a pool: the input (largest first, as the pipeline plans it) merged with
    follow-up tasks added while it runs (the page ranges of a split PDF), the costliest first
    by the `cost` an ingest task carries (the pipeline's estimate, bytes of file to read).
    Largest first keeps the end of a batch short; follow-ups first regardless would start the
    other big files late, and one of them would run alone at the end."""

    def __init__(self, tasks: Iterable[tuple[Any, Any]]) -> None:
        self.pending = iter(tasks)
        self.head: tuple[Any, Any] | None = None
        self.extra: list[tuple[float, int, Any, Any]] = []  # heap of (-cost, seq, key, payload)
        self.seq = 0

    def add(self, key: Any, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.extra, (-_cost(payload), self.seq, key, payload))

    def next(self, follow_ups_only: bool = False) -> tuple[Any, Any] | None:
        """The next task to run, or None when there is none now (more may be added)."""
        if follow_ups_only:
            return heapq.heappop(self.extra)[2:] if self.extra else None  # type: ignore[return-value]
        if self.head is None:
            self.head = next(self.pending, None)
        if self.extra and (self.head is None or -self.extra[0][0] >= _cost(self.head[1])):
            _, _, key, payload = heapq.heappop(self.extra)
            return key, payload
        task, self.head = self.head, None
        return task


def _cost(payload: Any) -> float:
    return float(getattr(payload, "cost", 0) or 0)  # an ingest task's (indexer.tasks); else 0


class WorkerPool:
    def __init__(self, fn: Callable[[Any], Any], workers: int = 0, timeout: float = 120.0,
                 memory_mb: int = 1024, setup_grace: float = 0.0) -> None:
        """setup_grace: extra seconds for the first task of each (new) worker process, which
        also builds what `fn` caches per process (the tagger: seconds, more on a loaded
        machine). Without it a small file could time out only for being a worker's first,
        and the failure would stick until the file changes."""
        self.fn = fn
        self.setup_grace = setup_grace
        self.size = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.ctx = mp.get_context("fork")
        self.feed = Feed(())

    def add(self, key: Any, payload: Any) -> None:
        """Queue one more task for the run in progress (call it between two results)."""
        self.feed.add(key, payload)

    def run(self, tasks: Iterable[tuple[Any, Any]]) -> Iterator[TaskResult]:
        """Run (key, payload) tasks; yield a TaskResult per task as each finishes."""
        feed = self.feed = Feed(tasks)
        workers = [_Worker(self.ctx, self.fn, self.memory_mb) for _ in range(self.size)]
        try:
            while True:
                for w in workers:
                    if w.task is None:
                        task = feed.next()
                        if task is None:
                            break
                        key, payload = task
                        grace = self.setup_grace if w.fresh else 0.0
                        w.fresh = False
                        w.task = (key, time.monotonic() + self.timeout + grace)
                        w.allowed = self.timeout + grace
                        w.conn.send((key, payload))
                busy = [w for w in workers if w.task is not None]
                if not busy:
                    return
                soonest = min(w.task[1] for w in busy)  # type: ignore[index]
                ready = wait([w.conn for w in busy], timeout=max(0.0, soonest - time.monotonic()))
                now = time.monotonic()
                for i, w in enumerate(workers):
                    if w.task is None:
                        continue
                    key, deadline = w.task
                    if w.conn in ready:
                        try:
                            reply = w.conn.recv()
                        except (EOFError, OSError):
                            w.proc.join(5)
                            code = w.proc.exitcode
                            why = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
                            yield TaskResult(key, False, code="worker_crashed",
                                             reason=f"extraction worker crashed ({why})")
                            workers[i] = self._replace(w)
                            continue
                        _, ok, value, err_code, reason, seconds, rss = reply
                        w.task = None
                        yield TaskResult(key, ok, value, err_code, reason, seconds, rss)
                    elif now >= deadline:
                        yield TaskResult(key, False, code="resource_limit",
                                         reason=f"timed out after {w.allowed:g} s; worker killed",
                                         seconds=w.allowed)
                        workers[i] = self._replace(w)
        finally:
            for w in workers:
                try:
                    w.conn.send(None)
                except (OSError, ValueError):
                    pass
            for w in workers:
                w.proc.join(2)
                if w.proc.is_alive():
                    w.kill()

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        return _Worker(self.ctx, self.fn, self.memory_mb)
