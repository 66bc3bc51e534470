"""Find the files to ingest: folders walked, hidden files skipped, symlink loops safe."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from indexer.sidecar import is_sidecar


def walk(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Yield regular files under each path, sorted, each real file once per visible path.

    Hidden files and folders (name starting with '.') are skipped. Symlinked folders are
    followed, but a folder whose real path was already visited is not entered again, so a
    symlink loop ends. Paths that are not regular files (sockets, devices) are skipped.
    """
    seen_dirs: set[str] = set()
    for raw in paths:
        root = Path(raw)
        if root.is_file():
            if not is_sidecar(root):
                yield root
            continue
        if not root.is_dir():
            continue
        yield from _walk_dir(root, seen_dirs)


def _walk_dir(root: Path, seen_dirs: set[str]) -> Iterator[Path]:
    try:
        real = os.path.realpath(root)
    except OSError:
        return
    if real in seen_dirs:
        return
    seen_dirs.add(real)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=True):
                yield from _walk_dir(path, seen_dirs)
            elif entry.is_file(follow_symlinks=True) and not is_sidecar(path):
                # metadata.csv / FILE.meta.json describe documents; they are not documents
                yield path
        except OSError:  # a dangling link or a file that vanished
            continue
