"""The facade web/ and the CLI call: one object per KB home folder.

It opens the catalog and the search index lazily and closes them on ``close()``; a web
request or a CLI command makes one and closes it when done.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

from kb import settings as settings_mod
from kb.errors import NotFoundError
from kb.search.backends import open_service
from kb.search.service import SearchService
from kb.store import Catalog

# Catalog files (path, device, inode) this process has opened with migrations and PRAGMAs.
_PREPARED: set[tuple[str, int, int]] = set()


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_dev, st.st_ino)


class KB:
    def __init__(self, settings: Mapping[str, Any] | None = None, readonly: bool = False,
                 index_source: Callable[[], Any] | None = None) -> None:
        """index_source: where to get an already open index instead of opening one (a web
        worker keeps one per process: opening it costs more than a search). A borrowed
        index is not closed by close()."""
        self.settings = settings if isinstance(settings, settings_mod.Settings) else settings_mod.load(settings)
        self.home = Path(self.settings["home"])
        self.readonly = readonly
        self._catalog: Catalog | None = None
        self._index = None
        self._index_source = index_source

    # -- resources ------------------------------------------------------------
    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.sqlite"

    @property
    def index_path(self) -> Path:
        return self.home / "index"

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            # A read-only facade (one per web request) skips the schema check and the journal
            # PRAGMAs when this process already prepared this very file (same inode): they were
            # a third of a document request's SQL. WAL mode is stored in the file itself.
            key = _file_key(self.catalog_path)
            quick = self.readonly and key is not None and key in _PREPARED
            self._catalog = Catalog(self.catalog_path, timeout=float(self.settings["lock_timeout"]), readonly=quick)
            if not quick:
                key = _file_key(self.catalog_path)
                if key is not None:
                    _PREPARED.add(key)
        return self._catalog

    @property
    def index(self) -> SearchService:
        """The search service over this home's backend (`search_backend` setting)."""
        if self._index is None and self._index_source is not None:
            self._index = self._index_source()
        if self._index is None:
            self._index = open_service(self.settings, resolver=self._resolve_entity, state=self.curation_version)
            if self.settings["embeddings"]:
                self._index.dense = self._dense_index()
        return self._index

    def _dense_index(self):  # -> kb.embed.dense.DenseIndex
        """The catalog's passage vectors for hybrid search; the model loads on the first
        hybrid query, the matrix on the first search that checks whether hybrid can run."""
        from kb.embed.dense import DenseIndex
        from kb.embed.model import get_embedder

        threads = int(self.settings["embed_threads"])
        return DenseIndex(self.catalog_path, lambda: get_embedder(threads))

    def _resolve_entity(self, phrase: str) -> list[tuple[str, str]]:
        """Query words -> entity ids, so "Korea" also finds KOR-tagged passages. The registry
        is loaded on the first query that needs it, not when the index opens. The curation
        version is the running search's (one catalog lookup a request, not one a phrase)."""
        return self._registry_at(self._index.request_state() if self._index is not None else
                                 self.curation_version()).resolve(phrase)

    def curation_version(self) -> int:
        """The catalog's curation version (0 before any catalog exists): what the registry,
        search-time resolution and cached results are keyed by besides the index build."""
        if self._catalog is None and not self.catalog_path.exists():
            return 0
        return self.catalog.curation_version()

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
        if self._index is not None:
            close = getattr(self._index, "close", None)
            if close and self._index_source is None:
                close()
            self._index = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- documents ------------------------------------------------------------
    def document(self, doc_id: str) -> dict[str, Any]:
        doc = self.catalog.get_document(doc_id)
        if doc is None:
            raise NotFoundError(f"no document {doc_id!r}")
        return doc

    def stats(self) -> dict[str, Any]:
        return self.catalog.stats()

    # -- search ---------------------------------------------------------------
    def search(self, request):  # (kb.search.types.SearchRequest) -> SearchResult
        return self.index.search(request)

    # -- entities (read-only) ---------------------------------------------------
    @property
    def registry(self):  # -> kb.entities.Registry
        """The entity registry with this home's curation applied. Rebuilt when the curation
        changes (one primary-key lookup per call), so a long-lived facade (a web worker's
        shared one) follows curation made by any process without a restart."""
        return self._registry_at(self.curation_version())

    def _registry_at(self, version: Any):  # -> kb.entities.Registry
        held = getattr(self, "_registry", None)
        if held is None or held[0] != version:
            from kb.entities import load_registry

            held = self._registry = (version, load_registry(self.catalog.curation()))
        return held[1]
