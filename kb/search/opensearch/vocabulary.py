"""The OpenSearch backend's words for the spelling policy (kb.search.types.Vocabulary):
each passage's distinct spelling forms are a keyword field (`words`), so a word's presence
and frequency are a term count, and the nearest known word is the term suggester's answer.
Answers are kept for a short while: the spelling policy asks about every query word."""
from __future__ import annotations

import time
from typing import Any

from opensearchpy import OpenSearch

from kb.search.opensearch.client import call
from kb.search.opensearch.mapping import SEARCH_FIELDS, spell_forms

CACHE_SECONDS = 30.0
CACHE_SIZE = 50_000


class OpenSearchVocabulary:
    available = True

    def __init__(self, client: OpenSearch, alias: str) -> None:
        self.client = client
        self.alias = alias
        self._cache: dict[tuple[str, str], Any] = {}
        self._since = time.monotonic()

    def _cached(self, kind: str, key: str, compute: Any) -> Any:
        # emptied every CACHE_SECONDS, so words another process indexes are seen soon
        if time.monotonic() - self._since > CACHE_SECONDS or len(self._cache) > CACHE_SIZE:
            self._cache.clear()
            self._since = time.monotonic()
        if (kind, key) not in self._cache:
            self._cache[(kind, key)] = compute()
        return self._cache[(kind, key)]

    def _count(self, query: dict[str, Any]) -> int:
        return int(call(self.client.count, index=self.alias, body={"query": query})["count"])

    def __contains__(self, form: str) -> bool:
        return self.frequency(form) > 0

    def spell_forms(self, token: str) -> list[str]:
        return spell_forms(token)

    def frequency(self, form: str) -> int:
        return self._cached("f", form, lambda: self._count({"term": {"words": form}}))

    def nearest(self, form: str, maxdist: int) -> str | None:
        def compute() -> str | None:
            body = {"size": 0, "suggest": {"w": {"text": form, "term": {
                "field": "spell", "suggest_mode": "always", "sort": "frequency",
                "max_edits": max(1, min(2, maxdist)), "min_word_length": 2, "size": 1}}}}
            answer = call(self.client.search, index=self.alias, body=body)
            for entry in answer.get("suggest", {}).get("w", []):
                if entry.get("options"):
                    return str(entry["options"][0]["text"])
            return None
        return self._cached(f"n{maxdist}", form, compute)

    def found_by_analysis(self, word: str) -> bool:
        probe = {"multi_match": {"query": word, "fields": list(SEARCH_FIELDS)}}
        return self._cached("a", word, lambda: self._count(probe) > 0)

    def expansions(self, regex: str, at_most: int) -> int:
        """How many indexed words match `regex` (counted up to at_most)."""
        body = {"size": 0, "aggs": {"w": {"terms": {"field": "words", "include": regex,
                                                   "size": at_most}}}}
        answer = call(self.client.search, index=self.alias, body=body)
        return len(answer["aggregations"]["w"]["buckets"])
