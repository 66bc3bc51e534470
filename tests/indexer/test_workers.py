import mmap
import os
import time

from indexer.workers import WorkerPool


def _task(kind):
    if kind == "sleep":
        time.sleep(30)
    if kind == "hog":
        return len(bytearray(3 * 1024 ** 3))
    if kind == "300mb":
        return len(bytearray(300 * 1024 ** 2))
    if kind == "bug":
        raise ValueError("parser bug")
    if kind == "die":
        os._exit(7)
    return kind.upper()


def test_time_limit_memory_cap_and_crashes_fail_one_task_each_and_the_batch_goes_on():
    tasks = [(i, k) for i, k in enumerate(["a", "sleep", "hog", "bug", "die", "b", "c"])]
    t0 = time.monotonic()
    results = {r.key: r for r in WorkerPool(_task, workers=2, timeout=2, memory_mb=512).run(tasks)}
    assert time.monotonic() - t0 < 20
    assert set(results) == set(range(7))
    assert [results[i].value for i in (0, 5, 6)] == ["A", "B", "C"]
    assert results[1].code == "resource_limit" and "timed out" in results[1].reason
    assert results[2].code == "resource_limit" and "memory" in results[2].reason
    assert results[3].code == "extraction_failed" and "ValueError: parser bug" in results[3].reason
    assert results[4].code == "worker_crashed" and "exit code 7" in results[4].reason


def test_no_tasks_is_fine():
    assert list(WorkerPool(_task, workers=2).run([])) == []


def test_feed_runs_the_costliest_task_first_follow_ups_included():
    from indexer.tasks import RecordsTask
    from indexer.workers import Feed

    def costing(cost: float) -> RecordsTask:
        return RecordsTask([], cost=cost)

    feed = Feed([("big", costing(100)), ("mid", costing(50)), ("small", costing(10)), ("rec", "no cost")])
    assert feed.next() == ("big", costing(100))
    feed.add("range-a", costing(60))
    feed.add("range-b", costing(20))
    feed.add("assemble", costing(float("inf")))
    order = []
    while (task := feed.next()) is not None:
        order.append(task[0])
        if task[0] == "mid":
            assert feed.next(follow_ups_only=True)[0] == "range-b"  # input held back, follow-ups not
    assert order == ["assemble", "range-a", "mid", "small", "rec"]
    assert feed.next() is None


def test_the_memory_cap_counts_what_a_file_adds_not_what_the_parent_had_mapped():
    # A parent that mapped a lot (an ingest that loaded the embedding model maps ~600 MB)
    # forks workers that inherit the mappings: the cap must leave a file its own allowance,
    # and still stop a file that takes more than it.
    region = mmap.mmap(-1, 2 * 1024 ** 3)  # 2 GiB of address space, never touched: no RSS
    try:
        tasks = [(0, "300mb"), (1, "hog")]
        results = {r.key: r for r in WorkerPool(_task, workers=1, timeout=20, memory_mb=512).run(tasks)}
    finally:
        region.close()
    assert results[0].ok and results[0].value == 300 * 1024 ** 2, results[0].reason
    assert results[1].code == "resource_limit" and "memory" in results[1].reason
