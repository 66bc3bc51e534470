"""Ingest on a real Dask cluster (scheduler and two workers as separate processes over TCP on
loopback): the catalog a local ingest gives, a killed worker that loses nothing, files that
crash or exhaust their worker, the scheduler vanishing mid-ingest; and page ranges of one PDF
put back together into exactly the unsplit extraction."""
from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from itertools import pairwise

import pytest

from indexer.extract import extract, pdfsplit
from indexer.extract.pdfsplit import (
    PagePart,
    assemble,
    forget,
    page_ranges,
    read_first,
    read_range,
    split_ranges,
)
from indexer.library import ingest
from kb.facade import KB
from kb.maintenance import check
from tests.conftest import CORPUS, SHARED
from tests.indexer.dask_cluster import Cluster
from tests.reliability.conftest import run_kb
from tests.reliability.generators import pdf_deep_nesting, pdf_huge_stream, text_pdf

pytestmark = [pytest.mark.shared, pytest.mark.slow, pytest.mark.timeout(240)]
GEOTOPO = "pypdf__GeoTopo-komprimiert.pdf"  # 117 pages: running headers, hyphenation, headings
PICKS = [GEOTOPO, "uns__multi-column-2p.pdf", "dl__amt_handbook_sample.pdf", "dl__multi_page.pdf",
         "uns__reliance.pdf", "uns__failure-after-repair.pdf"]
# Multi-column samples (columns and bands are ordered per page) and the 76-page report.
SPLITS = [(GEOTOPO, 16), ("uns__multi-column-2p.pdf", 1), ("dl__redp5110_sampled.pdf", 1),
          ("uns__failure-after-repair.pdf", 16)]
RANGES = 11 + 9  # of GeoTopo (117 pages) and the 76-page report, on two workers, 16 pages a task


def _pdf(name: str):
    path = SHARED / "docs" / "pdf" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent; set KB_SHARED to run this test")
    return path


def snapshot(kb: KB) -> dict:
    """The catalog's content, without run ids and times: documents, paths, passages (text,
    ordinal, pages, heading path), mentions, failures."""
    db = kb.catalog.db
    rows = lambda sql: [tuple(r) for r in db.execute(sql)]
    return {
        "documents": rows("SELECT id, sha256, title, format, size, page_count, language, year, metadata "
                          "FROM documents ORDER BY id"),
        "paths": rows("SELECT path, doc_id FROM document_paths ORDER BY path"),
        "passages": rows("SELECT doc_id, ordinal, text, heading_path, page_start, page_end, kind, language "
                         "FROM passages ORDER BY doc_id, ordinal"),
        "mentions": rows("SELECT m.doc_id, p.ordinal, m.type, m.entity_id, m.name, m.text, m.start, m.end "
                         "FROM mentions m JOIN passages p ON p.id = m.passage_id "
                         "ORDER BY m.doc_id, p.ordinal, m.start, m.type, m.entity_id"),
        "failures": rows("SELECT path, code, reason FROM failures ORDER BY path"),
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask-in")
    shutil.copy(CORPUS / "forum-2012-final-report.md", root)
    for name in PICKS:
        shutil.copy(_pdf(name), root / name)
    return root


@pytest.fixture(scope="module")
def baseline(folder, tmp_path_factory):
    """A local ingest of the folder with whole-file tasks: what every other run must equal."""
    home = tmp_path_factory.mktemp("local-home")
    with KB({"home": str(home), "ocr": False, "pdf_pages_per_task": 0}) as kb:
        summary = ingest([folder], kb, workers=2)
        assert summary["failed"] == 0 and summary["tasks"]["split_files"] == 0
        assert summary["where"] == "local (2 worker processes)"
        return snapshot(kb)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask-logs"), workers=2, allowed_failures=1,
                preload="tests.indexer.dask_preload")
    yield c
    c.stop()


def _kb(home, **settings):
    return KB({"home": str(home), "ocr": False, "pdf_pages_per_task": 16, **settings})


@pytest.mark.parametrize(("name", "per_task"), SPLITS)
def test_page_ranges_reassemble_into_the_unsplit_extraction(name, per_task):
    path = _pdf(name)
    whole = extract(path)
    first = read_first(path, per_task)  # the file task: only the page count of a large PDF
    assert isinstance(first, PagePart) and first.page_count == whole.page_count > per_task and not first.rows
    parts = []
    for i, (a, b) in enumerate(page_ranges(whole.page_count, per_task)):
        if i % 2:
            forget()  # a worker that did not read the previous range opens the file afresh
        parts.append(read_range(path, a, b))
        assert pdfsplit._KEPT and pdfsplit._KEPT[0].key[0] == str(path)  # kept open for the next range
    split = assemble(path, list(reversed(parts)))  # arrival order does not matter
    assert not pdfsplit._KEPT  # the assembly is the last task of the file: closed
    assert split.to_dict() == whole.to_dict()
    if name == GEOTOPO:  # the cross-page decisions are really there to get wrong
        headings = [b for b in whole.blocks if b.kind == "heading"]
        assert len(headings) >= 20


def _sizes(ranges: list[tuple[int, int]]) -> list[int]:
    assert ranges[0][0] == 1 and all(b + 1 == c for (_, b), (c, _) in pairwise(ranges))  # contiguous
    return [b - a + 1 for a, b in ranges]


def test_ranges_shrink_towards_the_end_of_the_document_and_are_bounded():
    assert split_ranges(117, 16, 1) == [(1, 117)]  # one worker: nothing to share
    # Each range a quarter of the pages left (two workers), none under 16 / 4 pages.
    assert _sizes(split_ranges(117, 16, 2)) == [30, 22, 17, 12, 9, 7, 5, 4, 4, 4, 3]
    assert _sizes(split_ranges(40, 16, 8)) == [4] * 10
    many = split_ranges(100_000, 16, 64)
    sizes = _sizes(many)
    assert len(many) <= 64 and many[-1][1] == 100_000
    assert sizes[0] >= sizes[1] >= sizes[-2] >= sizes[-1]


def test_one_worker_reads_a_large_pdf_whole_and_two_share_its_ranges():
    from indexer.pageranges import TaskCounts, extract_task, run_split
    from indexer.workers import WorkerPool

    path = _pdf("dl__redp5110_sampled.pdf")  # 18 pages
    whole = extract(path)
    from indexer.tasks import FileTask, TaskKey

    task = FileTask(str(path), "d", "", path.stat().st_size, {})
    key = TaskKey("file", str(path))
    for workers, split in ((1, 0), (2, 1)):
        counts = TaskCounts()
        results = list(run_split(WorkerPool(extract_task, workers=workers), [(key, task)], 4, workers,
                                 counts=counts))
        assert [r.key for r in results] == [key] and results[0].ok, results[0].reason
        assert results[0].value.to_dict() == whole.to_dict()
        assert counts.split_files == split
        assert counts.ranges == (len(split_ranges(18, 4, 2)) if split else 0)


def test_missing_page_range_is_refused_with_a_reason():
    path = _pdf("dl__redp5110_sampled.pdf")
    parts = [read_range(path, a, b) for a, b in page_ranges(18, 6)]
    from kb.errors import ExtractionError

    with pytest.raises(ExtractionError, match="page 7 is missing"):
        assemble(path, [parts[0], parts[2]])


def test_local_ingest_with_page_ranges_gives_the_same_catalog(folder, baseline, tmp_path):
    with _kb(tmp_path / "home") as kb:
        summary = ingest([folder], kb, workers=2)
        assert summary["tasks"]["split_files"] == 2 and summary["tasks"]["ranges"] == RANGES
        assert snapshot(kb) == baseline


def test_dask_ingest_from_the_command_line_gives_the_local_catalog(folder, baseline, cluster, tmp_path):
    home = tmp_path / "home"
    proc = run_kb(home, "ingest", str(folder), "--scheduler", cluster.address, "--format", "json", timeout=200,
                  KB_OCR="0")
    assert proc.returncode == 0, proc.stderr[-3000:] + cluster.log()
    summary = json.loads(proc.stdout)
    assert summary["where"] == f"dask {cluster.address} (2 workers, 2 threads)"
    # A task per file; a split PDF adds its ranges and an assembly: GeoTopo's 117 pages are
    # 11 ranges on two workers, the 76-page report 9.
    tasks = summary["tasks"]
    assert tasks["split_files"] == 2 and tasks["ranges"] == RANGES
    assert tasks["done"] == tasks["submitted"] == len(PICKS) + 1 + tasks["ranges"] + tasks["split_files"]
    with _kb(home) as kb:
        assert snapshot(kb) == baseline
        assert check(kb)["ok"]
    stats = run_kb(home, "stats")
    assert f"on dask {cluster.address}" in stats.stdout, stats.stdout


def test_a_bad_or_unreachable_scheduler_is_one_line_and_writes_nothing(folder, tmp_path):
    from tests.indexer.dask_cluster import free_port

    home = tmp_path / "home"
    bad = run_kb(home, "ingest", str(folder), "--scheduler", "localhost:8786", timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == ("kb: error: Dask scheduler address 'localhost:8786' is not "
                                                   "tcp://HOST:PORT (or tls://HOST:PORT)")
    t0 = time.monotonic()
    gone = run_kb(home, "ingest", str(folder), "--scheduler", f"tcp://127.0.0.1:{free_port()}", timeout=90)
    assert gone.returncode == 1 and time.monotonic() - t0 < 60
    last = gone.stderr.strip().splitlines()[-1]
    assert last.startswith("kb: error: cannot reach the Dask scheduler at tcp://127.0.0.1:"), gone.stderr[-2000:]
    with _kb(home) as kb:
        assert kb.stats()["documents"] == 0


def test_a_worker_killed_mid_ingest_loses_nothing(folder, baseline, cluster, tmp_path):
    box: dict = {}

    def work() -> None:
        with _kb(tmp_path / "home") as kb:
            box["summary"] = ingest([folder], kb, scheduler=cluster.address)
            box["snapshot"] = snapshot(kb)

    t = threading.Thread(target=work)
    t.start()
    victim = None
    with cluster.client() as c:
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline and t.is_alive():
            busy = [addr for addr, keys in c.processing().items() if keys]
            if busy:
                victim = cluster.worker_pids()[busy[0]]
            time.sleep(0.05)
    assert victim is not None, "no worker ever had a task"
    os.kill(victim, signal.SIGKILL)
    t.join(200)
    assert not t.is_alive()
    summary = box["summary"]
    assert summary["failed"] == 0, summary["failures"]
    assert box["snapshot"] == baseline
    cluster.wait_for_workers(2)  # the nanny brought it back


def test_a_file_that_kills_its_workers_fails_after_allowed_failures_and_limits_hold(cluster, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(CORPUS / "forum-2012-final-report.md", folder)
    (folder / "kill-worker.pdf").write_bytes(text_pdf(["This file kills the worker that reads it"]))
    (folder / "hugestream.pdf").write_bytes(pdf_huge_stream())  # 600 MiB content stream
    (folder / "deep.pdf").write_bytes(pdf_deep_nesting())
    with _kb(tmp_path / "home", file_memory_mb=384, file_timeout=30) as kb:
        summary = ingest([folder], kb, scheduler=cluster.address)
        failures = {os.path.basename(f["path"]): f for f in summary["failures"]}
        assert summary["added"] == 1, summary["failures"]
        assert failures["kill-worker.pdf"]["code"] == "worker_crashed"
        assert "allowed-failures" in failures["kill-worker.pdf"]["reason"]
        # The memory cap and time limit hold in the sandbox: the Dask workers live on.
        assert failures["hugestream.pdf"]["code"] in ("resource_limit", "extraction_failed")
        assert "deep.pdf" in failures
        for f in failures.values():
            assert "\n" not in f["reason"] and len(f["reason"]) < 320
        assert kb.catalog.failure_for(str(folder / "kill-worker.pdf"))["code"] == "worker_crashed"
    cluster.wait_for_workers(2)


def test_the_scheduler_vanishing_stops_the_ingest_and_the_next_run_resumes(folder, baseline, tmp_path):
    from indexer.distributed import SchedulerLostError

    home = tmp_path / "home"
    first = Cluster(tmp_path / "logs1", workers=2)
    first.killed = False
    try:
        written = []

        def progress(event: dict) -> None:
            if event["event"] == "file" and event.get("status") == "ok":
                written.append(event["path"])
            # Killed once the first task has finished on a worker: after the first written file
            # the remaining results could all be in already (no scheduler needed, no error).
            if event["event"] == "task" and not first.killed:
                first.killed = True
                first.kill_scheduler()

        t0 = time.monotonic()
        with _kb(home) as kb, pytest.raises(SchedulerLostError, match="run the same ingest again to resume"):
            ingest([folder], kb, scheduler=first.address, progress=progress)
        assert time.monotonic() - t0 < 120
    finally:
        first.stop()
    with _kb(home) as kb:
        docs = snapshot(kb)["documents"]
        assert len(docs) < len(baseline["documents"])  # stopped part-way, whole documents only
    second = Cluster(tmp_path / "logs2", workers=2)
    try:
        with _kb(home) as kb:
            summary = ingest([folder], kb, scheduler=second.address)
            assert summary["unchanged"] == len(written) and summary["failed"] == 0
            assert snapshot(kb) == baseline
            assert check(kb)["ok"]
    finally:
        second.stop()


def _sleep_or_crash(payload: dict) -> str:
    """A task for the sandbox test: sleeps, crashes its process, or answers."""
    if payload["do"] == "sleep":
        time.sleep(30)
    if payload["do"] == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    return f"pid {os.getpid()}"


def test_time_limit_and_crashes_are_contained_on_the_dask_worker(cluster):
    """The sandbox each Dask worker thread runs its tasks in: a task past its time is killed
    with its sandbox, a crashing one is reported, and the Dask worker itself lives on."""
    from indexer.distributed import _sandbox, _Setup

    with cluster.client() as c:
        before = cluster.worker_pids()
        c.register_plugin(_Setup("test-sandbox", []), name="kb-setup-test-sandbox")
        setup = "test-sandbox"
        worker = min(before)

        def run(do: str, timeout: float = 5.0):
            fut = c.submit(_sandbox, _sleep_or_crash, {"do": do}, setup, timeout, 512, 0.0, pure=False,
                           workers=[worker])
            return fut.result(timeout=60)

        t0 = time.monotonic()
        ok, _, code, reason, _, _ = run("sleep", timeout=1.0)
        assert (ok, code) == (False, "resource_limit") and reason == "timed out after 1 s; worker killed"
        assert time.monotonic() - t0 < 20
        ok, _, code, reason, _, _ = run("crash")
        assert (ok, code) == (False, "worker_crashed") and "signal 11" in reason
        ok, value, *_ = run("answer")
        assert ok and value.startswith("pid ")
        assert cluster.worker_pids() == before  # the Dask workers were never restarted
        # A worker without the ingest's setup (its plugin) refuses the task with a reason.
        fut = c.submit(_sandbox, _sleep_or_crash, {"do": "answer"}, "no-such-setup", 5.0, 512, 0.0, pure=False)
        ok, _, code, reason, _, _ = fut.result(timeout=60)
        assert (ok, code) == (False, "worker_setup") and "setup" in reason


def _started_at(payload: dict) -> float:
    """A task for the order test: when it started, after which it holds its thread a while."""
    started = time.time()
    time.sleep(1.5)  # long against scheduling jitter on a loaded 2-core host (waves stay apart)
    return started


def test_the_cluster_runs_the_costliest_tasks_first_on_every_worker(cluster):
    """Tasks submitted together used to tie in Dask's priority and run in any order (a large
    file could start last and run alone at the end), and tasks depending on a shared setup
    result went to the worker that held it. Now they start costliest first, on both workers."""
    from indexer.distributed import DaskPool

    pool = DaskPool(cluster.address, _started_at, [])
    try:
        costs = [900, 800, 700, 600, 500, 400, 300, 200]
        results = list(pool.run((f"task{c}", {"cost": c}) for c in costs))
    finally:
        pool.close()
    assert all(r.ok for r in results), [r.reason for r in results]
    order = [int(r.key[4:]) for r in sorted(results, key=lambda r: r.value)]
    waves = [order[i:i + 2] for i in range(0, len(order), 2)]  # two workers: two tasks at a time
    assert all(min(a) > max(b) for a, b in pairwise(waves)), order
    starts = sorted(r.value for r in results)
    assert starts[1] - starts[0] < 1.0, starts  # both workers busy from the start (stealing took ~1.3 s)
