"""A real Dask cluster for the tests: `dask scheduler` and `dask worker` processes (each
worker under its nanny, which restarts it when it dies) talking TCP on loopback, on free
ports, stopped at the end. Workers import this checkout (PYTHONPATH) like a deployed kb."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO

# Dask's own monitors, as docs/scale-out.md recommends where workers share a few cores: the
# event-loop tick (every 20 ms by default) and the system monitor (every 0.5 s) of the
# scheduler and of each nanny cost, on two cores, about a second of CPU per ingest of the
# shared PDFs. They only feed warnings and the dashboard.
QUIET_MONITORS = {"DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
                  "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "2s"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, logs: Path, workers: int = 2, allowed_failures: int = 3, preload: str | None = None,
                 memory_limit: str = "0", env: dict[str, str] | None = None) -> None:
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "DASK_"))}
        self.env.update({"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
                         "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures),
                         **QUIET_MONITORS, **(env or {})})
        self.procs: list[subprocess.Popen] = []
        self.scheduler = self._start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                                   "--port", str(self.port), "--no-dashboard"])
        args = ["distributed.cli.dask_worker", self.address, "--nthreads", "1", "--host", "127.0.0.1",
                "--no-dashboard", "--memory-limit", memory_limit]
        if preload:
            args += ["--preload", preload]
        self.workers = [self._start(f"worker{i}", args) for i in range(workers)]
        self.wait_for_workers(workers)

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the process writes it until stopped
        proc = subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, env=self.env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.procs.append(proc)
        return proc

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def wait_for_workers(self, n: int, timeout: float = 60.0) -> None:
        with self.client() as c:
            c.wait_for_workers(n, timeout=timeout)

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid of the worker process (the nanny's child)."""
        with self.client() as c:
            return c.run(os.getpid)

    def kill_scheduler(self) -> None:
        os.killpg(self.scheduler.pid, signal.SIGKILL)
        self.scheduler.wait(10)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)

    def log(self) -> str:
        return "\n".join(f"== {f.name}\n{f.read_text(errors='replace')[-3000:]}" for f in sorted(self.logs.glob("*.log")))
