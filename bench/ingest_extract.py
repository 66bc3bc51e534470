"""Extractor-only figures: our PDF pipeline vs raw pdfminer.six ``extract_text`` on the same
files in the same run (interleaved, so machine load hits both alike), plus GeoTopo quality.

Run: ``.venv/bin/python -m bench ingest_extract``. Target: ours <= 1.25 x raw time.
"""
from __future__ import annotations

import time
from pathlib import Path

from bench.common import row, shared_or_none


def _raw(path: Path) -> str:
    from pdfminer.high_level import extract_text

    return extract_text(str(path))


def _ours(path: Path):
    from indexer.extract import extract

    return extract(path)


def run(args: list[str]) -> None:
    from kb.errors import ExtractionError

    folder = shared_or_none("docs", "pdf")
    if folder is None:
        return
    files = sorted(folder.glob("*.pdf"))
    raw_t = ours_t = 0.0
    pages = blocks = 0
    used = 0
    for path in files:
        t0 = time.perf_counter()
        try:
            ex = _ours(path)
        except ExtractionError:
            continue  # encrypted / image-only: nothing comparable
        t1 = time.perf_counter()
        try:
            _raw(path)
        except Exception:  # noqa: BLE001, S112
            continue
        t2 = time.perf_counter()
        ours_t += t1 - t0
        raw_t += t2 - t1
        pages += ex.page_count or 0
        blocks += len(ex.blocks)
        used += 1
    print(f"  {used} text PDFs, {pages} pages")
    row("", "seconds", "pages/s", "x raw")
    row("raw pdfminer.six extract_text", f"{raw_t:.2f}", f"{pages / raw_t:.1f}", "1.00")
    row("kb extractor (layout + clean-up)", f"{ours_t:.2f}", f"{pages / ours_t:.1f}", f"{ours_t / raw_t:.2f}")
    print(f"  blocks/s: {blocks / ours_t:.1f} (target: kb extractor <= 1.25 x raw)")
    truth = shared_or_none("docs", "groundtruth", "pypdfbench__GeoTopo-book.txt")
    if truth is None:
        return
    from rapidfuzz.distance import Indel

    gt = truth.read_text("utf-8")
    book = folder / "pypdf__GeoTopo-komprimiert.pdf"
    ours = "\n\n".join(b.text for b in _ours(book).blocks)
    row("GeoTopo Indel similarity: raw pdfminer", f"{Indel.normalized_similarity(gt, _raw(book)):.3f}")
    row("GeoTopo Indel similarity: kb extractor", f"{Indel.normalized_similarity(gt, ours):.3f}")
