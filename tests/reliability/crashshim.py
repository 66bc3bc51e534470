"""`python -m tests.reliability.crashshim ARGS...` runs the `kb` command line with two more
crash points inside the Whoosh commit, which kb's own hook (indexer.pipeline.crash_point)
cannot reach: KB_CRASH_AT=toc_before:<n> kills the process after the new segment files are
written but before the table of contents names them; toc_after:<n> after the new table of
contents is written but before old files are cleaned and the catalog is told."""
from __future__ import annotations

import os
import signal
import sys


def _install() -> None:
    spec = os.environ.get("KB_CRASH_AT", "")
    point, _, n = spec.partition(":")
    if point not in ("toc_before", "toc_after"):
        return
    from whoosh.writing import SegmentWriter

    original = SegmentWriter._commit_toc
    seen = {"n": 0}

    def commit_toc(self, segments):  # type: ignore[no-untyped-def]
        seen["n"] += 1
        hit = seen["n"] >= int(n or 1)
        if hit and point == "toc_before":
            os.kill(os.getpid(), signal.SIGKILL)
        original(self, segments)
        if hit and point == "toc_after":
            os.kill(os.getpid(), signal.SIGKILL)

    SegmentWriter._commit_toc = commit_toc


if __name__ == "__main__":
    _install()
    from web.cli import main

    raise SystemExit(main(sys.argv[1:]))
