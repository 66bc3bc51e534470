"""The OpenSearch search backend (issue 12): `KB_SEARCH_BACKEND=opensearch` and
`KB_OPENSEARCH_URL`. The only package of kb that imports opensearchpy."""
from kb.search.opensearch.backend import OpenSearchBackend, open_backend

__all__ = ["OpenSearchBackend", "open_backend"]
