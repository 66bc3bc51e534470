"""Build the tagger and the language model in this process before workers are forked from it,
so every worker (local or a Dask worker's sandbox) starts with them ready."""
from __future__ import annotations

from typing import Any


def warm_up(curation: list[dict[str, Any]]) -> None:
    from indexer.documents import get_tagger
    from indexer.language import detect

    get_tagger(curation).tag("Warm-up: the Republic of Korea and UNDESA.", "en")
    detect("warm up the language model with a sentence")
