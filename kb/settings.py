"""Settings as a declared list: name, default, help and hard limits.

Each setting can be overridden by the environment variable ``KB_<NAME>`` (upper case) or by
passing ``overrides`` to :func:`load`. Values outside [minimum, maximum] are refused: a hard
limit is a limit, not a suggestion. ``docs/settings.md`` is checked against this list by a test.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.errors import InvalidInputError


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, raw: Any) -> Any:
        kind = type(self.default)
        try:
            if kind is bool:
                value = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
            elif kind is int:
                value = int(raw)
            elif kind is float:
                value = float(raw)
            else:
                value = str(raw)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"setting {self.name}: {raw!r} is not a {kind.__name__}") from exc
        if self.minimum is not None and value < self.minimum:
            raise InvalidInputError(f"setting {self.name}: {value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise InvalidInputError(f"setting {self.name}: {value} is above the maximum {self.maximum}")
        return value


SETTINGS: tuple[Setting, ...] = (
    Setting("home", "instance", "Folder for runtime state: catalog, index, cache, uploads."),
    Setting("workers", 0, "Extraction worker processes; 0 means one per core.", 0, 64),
    Setting("file_timeout", 120.0, "Seconds one file may take to extract before it is killed.", 1, 3600),
    Setting("file_memory_mb", 1024, "Memory cap per extraction worker: MiB of address space a file may add to what the worker starts with.", 128, 16384),
    Setting("pdf_pages_per_task", 16, "PDFs with more pages are read as page-range tasks by several workers; 0: never split.", 0, 100000),
    Setting("dask_scheduler", "", "Address of a Dask scheduler (tcp://host:port) for `kb ingest`; empty: local worker processes."),
    Setting("max_file_mb", 512, "Files larger than this are refused without being read.", 1, 65536),
    Setting("max_inflate_mb", 512, "Largest total uncompressed size accepted inside a zip-based file.", 1, 16384),
    Setting("query_time_budget", 2.0, "Seconds one search may run before it is cut short.", 0.05, 60),
    Setting("max_query_length", 1000, "Longest accepted query string, in characters.", 10, 100000),
    Setting("max_wildcard_terms", 2000, "Most index terms a wildcard or fuzzy term may expand to.", 10, 100000),
    Setting("page_size", 20, "Default number of results per page.", 1, 100),
    Setting("max_page_size", 100, "Largest number of results per page.", 1, 1000),
    Setting("search_cache_size", 256, "Search results kept per process (LRU, emptied by any index commit); 0 turns the cache off.", 0, 100000),
    Setting("search_backend", "whoosh", "Search engine behind the search service: whoosh (an index in the KB home) or opensearch (a cluster: opensearch_url)."),
    Setting("embeddings", True, "Embed passages (all-MiniLM-L6-v2) after each ingest's index commit, for hybrid search; off: bm25 only, no model loaded."),
    Setting("embed_threads", 2, "onnxruntime threads for embedding (ingest and query vectors).", 1, 64),
    Setting("search_mode", "hybrid", "Default ranking: hybrid (BM25 fused with passage vectors; bm25 until every passage has a vector) or bm25."),
    Setting("bm25_k1", 0.9, "BM25F term-frequency saturation (chosen on SciFact's training claims).", 0.01, 10),
    Setting("bm25_b", 0.6, "BM25F length normalisation (0: none, 1: full).", 0, 1),
    Setting("title_weight", 2.0, "Weight of a title or heading word against a text word in BM25F.", 0.1, 20),
    Setting("max_per_document", 3, "UI and CLI result pages: each document's first N passages come before any document's next N (0: plain result order). A grouping: nothing is dropped. The API applies it only when asked (max_per_document=N).", 0, 1000),
    Setting("export_rate_per_minute", 30, "Exports one client may start per minute (HTTP API).", 1, 100000),
    Setting("export_max_rows", 0, "Most rows one export may hold; 0 means no cap.", 0, 100000000),
    Setting("upload_max_mb", 64, "Largest file accepted by the upload endpoint.", 1, 4096),
    Setting("curation_inline_max_docs", 200, "A curation that concerns more documents than this re-tags them in a background job (the API answers 202 with a status URL) instead of within the request.", 0, 100000),
    Setting("lock_timeout", 30.0, "Seconds a writer waits for the index or catalog lock.", 0, 3600),
    Setting("ocr", True, "OCR image-only PDFs when the tesseract and pdftoppm programs are installed."),
    Setting("spacy_model", "", "Name of an installed spaCy model to merge statistical entities from (optional)."),
    Setting("indicators", "", "Path of a CSV (or folder of CSVs) of EGDI scores adding years to, or overriding, the shipped 2022 survey (optional)."),
    Setting("opensearch_url", "http://127.0.0.1:9200", "OpenSearch node URLs, comma-separated; the client fails over between them."),
    Setting("opensearch_user", "", "OpenSearch user name (basic authentication; optional)."),
    Setting("opensearch_password", "", "OpenSearch password (never logged or shown)."),
    Setting("opensearch_ca_certs", "", "Path of the CA bundle that signs the cluster's HTTPS certificates (optional)."),
    Setting("opensearch_shards", 1, "Primary shards of a new passage index.", 1, 1024),
    Setting("opensearch_replicas", -1, "Replicas of each shard; -1: 1 when the cluster has two or more nodes, else 0.", -1, 16),
    Setting("opensearch_index", "kb", "Prefix of the OpenSearch index and alias names (one prefix per KB)."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


class Settings(dict):
    """A dict of setting values with attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    @property
    def home_path(self) -> Path:
        return Path(self["home"])


def load(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values = Settings()
    for s in SETTINGS:
        raw = env.get(f"KB_{s.name.upper()}")
        values[s.name] = s.default if raw is None else s.parse(raw)
    for name, raw in (overrides or {}).items():
        if name not in _BY_NAME:
            raise InvalidInputError(f"unknown setting {name!r}")
        if raw is not None:
            values[name] = _BY_NAME[name].parse(raw)
    return values
