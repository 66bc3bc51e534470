"""Open a search service over a backend for tests: the contract suite runs against every
backend listed in BACKENDS (Whoosh always; OpenSearch when a cluster is given)."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kb.search.opensearch import OpenSearchBackend
from kb.search.service import SearchService
from kb.search.whoosh import open_backend as open_whoosh
from tests.opensearch_cluster import cluster_urls

Resolver = Callable[[str], list[tuple[str, str]]]
BACKENDS = ("whoosh", "opensearch")


class _ClusterIndex(OpenSearchBackend):
    """An OpenSearch backend under a prefix of its own, whose indexes go when it closes."""

    def close(self) -> None:
        self.client.indices.delete(index=f"{self.names.alias}-*", params={"ignore_unavailable": "true"})
        super().close()


def open_index(path: Path, settings: Mapping[str, Any], resolver: Resolver | None = None,
               backend: str = "whoosh") -> SearchService:
    """A search service over a `backend` index: Whoosh in the folder `path`; OpenSearch on the
    test cluster (tests/opensearch_cluster.py: skips without java/mvn, fails without a cluster)."""
    if backend == "whoosh":
        return SearchService(open_whoosh(Path(path), settings), settings, resolver)
    if backend == "opensearch":
        own = {**settings, "search_backend": "opensearch", "opensearch_url": ",".join(cluster_urls()),
               "opensearch_index": f"kbtest-{uuid.uuid4().hex[:10]}"}
        return SearchService(_ClusterIndex(own), own, resolver)
    raise ValueError(f"no test opener for backend {backend!r}")
