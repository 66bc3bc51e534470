"""Ingest benchmark (issue 2): the PDFs of ../shared/docs through the whole pipeline vs raw
pdfminer.six extract_text (and pdftotext when installed) in the same run; 1 vs 2 workers;
peak RSS per worker; re-ingesting the unchanged folder."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.common import row, shared_or_none


def _raw_pdfminer(path: str) -> int:
    from pdfminer.high_level import extract_text

    try:
        return len(extract_text(path))
    except Exception:  # noqa: BLE001 - the baseline fails on the same hostile files
        return 0


def _pdf_pages(path: str) -> int:
    from pdfminer.pdfpage import PDFPage

    try:
        with open(path, "rb") as f:
            return sum(1 for _ in PDFPage.get_pages(f))
    except Exception:  # noqa: BLE001
        return 0


def _ingest(folder: Path, workers: int) -> tuple[float, dict, Path]:
    from indexer.library import ingest
    from kb.facade import KB

    home = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    # OCR off: raw pdfminer does not OCR the image-only PDFs either (like for like).
    with KB({"home": str(home), "ocr": False}) as kb:
        t0 = time.perf_counter()
        summary = ingest([folder], kb, workers=workers)
        return time.perf_counter() - t0, summary, home


def run(args: list[str]) -> None:
    pdf_dir = shared_or_none("docs", "pdf")
    if pdf_dir is None:
        return
    # Only PDFs that open without a password, so both sides do the same work.
    work = Path(tempfile.mkdtemp(prefix="kb-bench-pdf-"))
    for p in sorted(pdf_dir.glob("*.pdf")):
        shutil.copy(p, work / p.name)
    # Largest first in both the baseline and the pipeline (which schedules that way).
    files = [str(p) for p in sorted(work.glob("*.pdf"), key=lambda p: -p.stat().st_size)]
    pages = sum(_pdf_pages(f) for f in files)
    print(f"  {len(files)} PDFs, {pages} pages")
    row("", "seconds", "pages/s", "ratio")

    t0 = time.perf_counter()
    for f in files:
        _raw_pdfminer(f)
    raw1 = time.perf_counter() - t0
    row("raw pdfminer extract_text, 1 process", f"{raw1:.2f}", f"{pages / raw1:.1f}", "1.00")
    with ProcessPoolExecutor(2) as ex:
        t0 = time.perf_counter()
        list(ex.map(_raw_pdfminer, files))
        raw2 = time.perf_counter() - t0
    row("raw pdfminer extract_text, 2 processes", f"{raw2:.2f}", f"{pages / raw2:.1f}", f"{raw2 / raw1:.2f}")
    if shutil.which("pdftotext"):
        t0 = time.perf_counter()
        for f in files:
            subprocess.run(["pdftotext", "-q", f, "-"], capture_output=True, check=False)
        tt = time.perf_counter() - t0
        row("pdftotext", f"{tt:.2f}", f"{pages / tt:.1f}", f"{tt / raw1:.2f}")
    else:
        print("  pdftotext: not installed (apt-get install poppler-utils to compare)")

    one, s1, home1 = _ingest(work, 1)
    row("kb pipeline, 1 worker (extract+segment+tag+index)", f"{one:.2f}", f"{pages / one:.1f}", f"{one / raw1:.2f}")
    two, s2, home2 = _ingest(work, 2)
    row("kb pipeline, 2 workers", f"{two:.2f}", f"{pages / two:.1f}", f"{two / raw1:.2f}")
    print(f"  speed-up 2 vs 1 workers: {one / two:.2f}x (target >= 1.7); pipeline/raw: {one / raw1:.2f} (target <= 1.25)")
    print(f"  passages: {s1['passages']} ({s1['passages'] / one:.1f}/s with 1 worker); failed files: {s1['failed']}")
    from indexer.library import ingest
    from kb.facade import KB

    with KB({"home": str(home1)}) as kb:
        t0 = time.perf_counter()
        again = ingest([work], kb, workers=2)
        re_t = time.perf_counter() - t0
    print(f"  re-ingest unchanged: {re_t:.2f}s = {100 * re_t / one:.1f}% of the first ingest (target < 5%); "
          f"unchanged {again['unchanged']}")
    print(f"  peak RSS per worker: {max(s1['peak_worker_rss_mb'], s2['peak_worker_rss_mb']):.0f} MiB (target <= 1024)")
    for h in (home1, home2, work):
        shutil.rmtree(h, ignore_errors=True)
