"""A worker's one-time setup (the tagger build) must not count against its first file's time
limit: without a grace period a setup longer than the limit failed every task, because every
replacement worker paid the setup again (found by the hostile-input run on a loaded machine)."""
from __future__ import annotations

import time

from indexer.workers import WorkerPool

_ready = False


def _slow_setup_task(key: int) -> int:
    global _ready
    if not _ready:  # per process, like indexer.documents.get_tagger
        time.sleep(1.5)
        _ready = True
    return key * 2


def test_first_task_of_each_worker_gets_the_setup_grace():
    results = list(WorkerPool(_slow_setup_task, workers=2, timeout=1, setup_grace=3).run([(i, i) for i in range(6)]))
    assert sorted(r.value for r in results) == [0, 2, 4, 6, 8, 10]
    assert all(r.ok for r in results)


def test_without_grace_a_slow_setup_fails_every_task():
    # the failure mode the grace prevents: each replacement worker times out in its setup
    results = list(WorkerPool(_slow_setup_task, workers=1, timeout=1).run([(i, i) for i in range(2)]))
    assert [r.code for r in results] == ["resource_limit", "resource_limit"]
    assert "timed out after 1 s" in results[0].reason
