"""Default content benchmark (issue 17): what the metadata sidecar costs at ingest and what a
sidecar change costs afterwards, on the 192 UNGD 2024 speeches of corpus/; and the ICEGOV CSV
(903 records) when ../shared is there.

Baselines in the same run: the speeches without their sidecar (the cost of the sidecar is the
ratio), and a forced re-ingest of the folder (`--force`: every file re-segmented and re-tagged
from the extraction cache), which is the work a sidecar change asks for; an unchanged re-ingest
shows what is skipped when no sidecar changed. Plain-text speeches cost little to extract, so
the figures are dominated by segmenting and tagging; on PDFs the cache saves the extraction."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from bench.common import REPO, row, shared_or_none


def _timed_ingest(home: Path, paths: list[Path], **kw: object) -> tuple[float, dict]:
    from indexer.library import ingest
    from kb.facade import KB

    with KB({"home": str(home)}) as kb:
        t0 = time.perf_counter()
        summary = ingest(paths, kb, **kw)
        return time.perf_counter() - t0, summary


def run(args: list[str]) -> None:
    speeches = REPO / "corpus" / "ungd-2024"
    work = Path(tempfile.mkdtemp(prefix="kb-bench-content-"))
    try:
        bare = work / "bare"
        bare.mkdir()
        for p in speeches.glob("*.txt"):
            shutil.copy(p, bare / p.name)
        dressed = work / "dressed"
        shutil.copytree(speeches, dressed)
        print(f"  {len(list(bare.glob('*.txt')))} speeches; sidecar {dressed / 'metadata.csv'}")
        warm = work / "warm"
        warm.mkdir()
        shutil.copy(next(bare.glob("*.txt")), warm)
        _timed_ingest(work / "h-warm", [warm])  # imports and the first tagger: not in either figure
        row("", "seconds", "docs/s", "ratio")
        t_bare, s_bare = _timed_ingest(work / "h-bare", [bare])
        row("ingest without sidecar (baseline)", f"{t_bare:.1f}", f"{s_bare['added'] / t_bare:.1f}", "1.00")
        home = work / "h-dressed"
        t_side, s_side = _timed_ingest(home, [dressed])
        row("ingest with sidecar", f"{t_side:.1f}", f"{s_side['added'] / t_side:.1f}", f"{t_side / t_bare:.2f}")
        sidecar = dressed / "metadata.csv"
        sidecar.write_text(sidecar.read_text(encoding="utf-8").replace("general debate;", "debate;"),
                           encoding="utf-8")
        t_apply, s_apply = _timed_ingest(home, [dressed])
        t_same, _ = _timed_ingest(home, [dressed])
        t_force, _ = _timed_ingest(home, [dressed], force=True)
        row("forced re-ingest (baseline)", f"{t_force:.1f}", f"{192 / t_force:.1f}", "1.00")
        row(f"sidecar change re-applied ({s_apply['from_cache']} from cache)", f"{t_apply:.1f}",
            f"{s_apply['updated'] / t_apply:.1f}", f"{t_apply / t_force:.2f}")
        row("unchanged re-ingest", f"{t_same:.1f}", "", f"{t_same / t_force:.2f}")
        icegov = shared_or_none("texts", "icegov", "icegov-proceedings-all-editions.csv")
        if icegov is not None:
            t_csv, s_csv = _timed_ingest(work / "h-icegov", [icegov])
            row(f"ICEGOV CSV ({s_csv['added']} records)", f"{t_csv:.1f}", f"{s_csv['added'] / t_csv:.1f}", "")
    finally:
        shutil.rmtree(work, ignore_errors=True)
