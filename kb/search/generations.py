"""The search index's generations on disk, and the atomic swap from one to the next.

``<path>/CURRENT`` names the live generation directory (``gen-0001``…), which holds the
Whoosh files and ``KB_SCHEMA`` (the schema version it was built with). A rebuild writes a
new generation beside the live one and publishes it by renaming a new CURRENT over the old
in one step, so a crash leaves either the old or the new index, never half of one; readers
compare CURRENT's stamp to notice the swap (kb.search.whoosh.backend).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def current_file(path: Path) -> Path:
    return path / "CURRENT"


def live_dir(path: Path) -> Path | None:
    """The live generation directory CURRENT names (None when there is none yet)."""
    try:
        name = current_file(path).read_text().strip()
    except OSError:
        return None
    return path / name if name else None


def stamp(path: Path) -> Any:
    """Changes whenever CURRENT is replaced (None when it is missing)."""
    try:
        st = current_file(path).stat()
        return (st.st_mtime_ns, st.st_ino)
    except OSError:
        return None


def new_generation_dir(path: Path) -> Path:
    """A new, empty generation directory, numbered after the highest present."""
    path.mkdir(parents=True, exist_ok=True)
    nums = [int(p.name[4:]) for p in path.glob("gen-*") if p.name[4:].isdigit()]
    d = path / f"gen-{max(nums, default=0) + 1:04d}"
    d.mkdir()
    return d


def publish(path: Path, gen_dir: Path) -> None:
    """Make `gen_dir` the live generation."""
    tmp = path / f"CURRENT.tmp{os.getpid()}"
    tmp.write_text(gen_dir.name)
    os.replace(tmp, current_file(path))  # atomic: readers see old or new
