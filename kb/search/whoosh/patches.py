"""Fixes to whoosh-reloaded 2.7.5, applied once on import by the backend.

1. ``W3PerDocReader._cached_reader`` caches a field's length column only when it exists; for
   fields without one (keyword and spelling fields) every posting written asks the file
   system again — ~136k stat calls for 600 abstracts, a third of indexing time. Segments
   are immutable once a reader is open on them, so "absent" can be cached as well.
2. Whoosh names new segments and temp files from the global ``random`` module. Anything in
   the process that re-seeds it (hypothesis does, per example; so can a library) makes two
   writers pick the same segment name, and the second commit dies on an assertion in
   ``create_compound_file`` — or overwrites a live segment. Names drawn from the OS's random
   source cannot repeat that way.
"""
from __future__ import annotations

import secrets
import string

from whoosh.codec import base as codec_base
from whoosh.codec import whoosh3
from whoosh.filedb import compound, filestore

_MISSING = object()
_CHARS = string.ascii_lowercase + string.digits


def _cached_reader(self, fieldname, column):  # type: ignore[no-untyped-def]
    cached = self._readers.get(fieldname, _MISSING)
    if cached is not _MISSING:
        return cached
    reader = self.column_reader(fieldname, column) if self.has_column(fieldname) else None
    self._readers[fieldname] = reader
    return reader


def random_name(size: int = 28) -> str:
    return "".join(secrets.choice(_CHARS) for _ in range(size))


def _random_id(cls, size: int = 16) -> str:  # type: ignore[no-untyped-def]
    return random_name(size)


def apply() -> None:
    whoosh3.W3PerDocReader._cached_reader = _cached_reader
    codec_base.Segment._random_id = classmethod(_random_id)  # type: ignore[assignment]
    filestore.random_name = random_name
    compound.random_name = random_name
