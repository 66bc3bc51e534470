"""Where an ingest's tasks run: the local process pool (indexer.workers) or a Dask cluster
(indexer.distributed), with large PDFs split into page ranges on either (indexer.pageranges).
The pipeline hands its planned tasks here and gets one result per task back."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from indexer.tasks import FileTask, RecordsTask, TaskKey
from indexer.warmup import warm_up
from indexer.workers import WorkerPool

WORKER_SETUP_GRACE = 30.0  # extra seconds for a worker's first file: it also builds the tagger


def execute(run: Any, tasks: list[tuple[TaskKey, FileTask | RecordsTask]], fn: Callable[[Any], Any], workers: int | None,
            scheduler: str) -> Iterator[Any]:
    """The results of `fn` on the tasks (TaskResult), from the local pool, or from the Dask
    cluster at `scheduler` in the order of `tasks`. `run` is the pipeline's _Run: settings,
    curation, progress; it learns where the work ran and how many tasks it took."""
    from indexer.pageranges import run_split

    settings = run.kb.settings
    per_task = int(settings["pdf_pages_per_task"])
    timeout, memory_mb = float(settings["file_timeout"]), int(settings["file_memory_mb"])
    if not scheduler:
        # Workers are forked from this process: building the tagger here once means every
        # worker (and every replacement of a killed one) starts with it ready.
        warm_up(run.catalog.curation())
        pool = WorkerPool(fn, workers=workers if workers is not None else int(settings["workers"]),
                          timeout=timeout, memory_mb=memory_mb, setup_grace=WORKER_SETUP_GRACE)
        run.where = f"local ({pool.size} worker processes)"
        yield from run_split(pool, run.with_cache(tasks), per_task, pool.size, on_task=run.task_done,
                             counts=run.tasks_run)
        return
    from indexer.distributed import DaskPool, in_order

    dask = DaskPool(scheduler, fn, run.catalog.curation(), timeout=timeout, memory_mb=memory_mb,
                    setup_grace=WORKER_SETUP_GRACE)
    try:
        run.where = dask.where
        run.emit("cluster", where=run.where)
        results = run_split(dask, run.with_cache(tasks), per_task, dask.threads, verify=True,
                            on_task=run.task_done, counts=run.tasks_run)
        yield from in_order(results, [key for key, _ in tasks], dask)
    finally:
        dask.close()
