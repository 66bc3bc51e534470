"""Writes to the passage index: bulk batches acknowledged only when every item succeeded and
the refresh is done; rebuild into a new versioned index and an atomic alias switch.

A batch that partly fails is retried (only the failed items, with a pause); items that still
fail after RETRIES fail the whole batch with a one-line reason. The caller (the catalog)
marks passages indexed only after a batch returned, so a failure is never swallowed.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch

from kb.errors import IndexError_
from kb.search.opensearch.client import call
from kb.search.opensearch.mapping import MAPPING_VERSION, index_body, record_to_source
from kb.search.types import PassageRecord

RETRIES = 3
BATCH = 500
RETRY_PAUSE_S = 0.5
# Per-item statuses worth another try: the node was busy or a shard was moving.
RETRYABLE = (429, 502, 503, 504)


@dataclass(frozen=True)
class Names:
    """The alias that readers use and the prefix of its versioned indexes."""

    prefix: str

    @property
    def alias(self) -> str:
        return f"{self.prefix}-passages"

    def new_index(self) -> str:
        return f"{self.alias}-v{MAPPING_VERSION}-{time.time_ns() // 1_000_000}"


def chunks(records: Iterable[PassageRecord], size: int = BATCH) -> Iterator[list[PassageRecord]]:
    batch: list[PassageRecord] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def bulk_index(client: OpenSearch, index: str, sources: list[dict[str, Any]]) -> None:
    """Index sources by their passage id; every item must succeed (retried, then one error)."""
    pending = sources
    for attempt in range(1, RETRIES + 1):
        body: list[dict[str, Any]] = []
        for src in pending:
            body.append({"index": {"_index": index, "_id": src["id"]}})
            body.append(src)
        answer = call(client.bulk, body=body)
        if not answer.get("errors"):
            return
        failed, first, retryable = [], "", True
        for src, item in zip(pending, answer["items"]):
            result = item.get("index", {})
            if result.get("status", 500) >= 300:
                failed.append(src)
                err = result.get("error") or {}
                first = first or f"{err.get('type', 'error')}: {err.get('reason', '')}"
                retryable = retryable and result.get("status") in RETRYABLE
        if not retryable or attempt == RETRIES:
            raise IndexError_(f"search backend: {len(failed)} of {len(sources)} passages not "
                              f"indexed after {attempt} tries; first: {first}")
        pending = failed
        time.sleep(RETRY_PAUSE_S * attempt)


def stale_ids(client: OpenSearch, index: str, doc_ids: list[str], keep: list[str]) -> list[str]:
    """Ids of the passages of doc_ids other than `keep` (read in id order with search_after;
    delete-by-query is a module the test distribution leaves out, and ids are few)."""
    query: dict[str, Any] = {"bool": {"filter": [{"terms": {"doc_id": doc_ids}}]}}
    if keep:
        query["bool"]["must_not"] = [{"ids": {"values": keep}}]
    body: dict[str, Any] = {"query": query, "size": BATCH, "_source": False, "sort": [{"id": "asc"}]}
    out: list[str] = []
    while True:
        hits = call(client.search, index=index, body=body)["hits"]["hits"]
        out.extend(h["_id"] for h in hits)
        if len(hits) < BATCH:
            return out
        body["search_after"] = hits[-1]["sort"]


def bulk_delete(client: OpenSearch, index: str, ids: list[str]) -> None:
    """Delete passages by id; every item must succeed (a passage already gone counts)."""
    for start in range(0, len(ids), BATCH):
        part = ids[start:start + BATCH]
        answer = call(client.bulk, body=[{"delete": {"_index": index, "_id": i}} for i in part])
        if answer.get("errors"):
            bad = [it["delete"] for it in answer["items"] if it["delete"].get("status", 500) not in (200, 404)]
            if bad:
                err = bad[0].get("error") or {}
                raise IndexError_(f"search backend: {len(bad)} of {len(part)} stale passages not "
                                  f"deleted; first: {err.get('type', 'error')}: {err.get('reason', '')}")


def update_documents(client: OpenSearch, index: str, doc_ids: Iterable[str],
                     records: Iterable[PassageRecord]) -> int:
    """Replace the passages of the records' documents and drop those of doc_ids; returns
    the number written once everything is acknowledged and visible (refreshed)."""
    drop = list(dict.fromkeys(doc_ids))
    touched: dict[str, None] = dict.fromkeys(drop)
    written: list[str] = []
    # every record is checked before anything is written: a malformed one changes nothing
    # (a batch is what one ingest commit holds, so it fits in memory)
    prepared = [record_to_source(r) for r in records]
    for start in range(0, len(prepared), BATCH):
        sources = prepared[start:start + BATCH]
        bulk_index(client, index, sources)
        written.extend(s["id"] for s in sources)
        touched.update(dict.fromkeys(s["doc_id"] for s in sources))
    if touched:
        # refresh first: the search for stale passages sees refreshed passages only
        call(client.indices.refresh, index=index)
        bulk_delete(client, index, stale_ids(client, index, list(touched), written))
    call(client.indices.refresh, index=index)
    return len(written)


def replicas_for(client: OpenSearch, configured: int) -> int:
    if configured >= 0:
        return configured
    nodes = call(client.cluster.health).get("number_of_data_nodes", 1)
    return 1 if nodes >= 2 else 0


def create_index(client: OpenSearch, name: str, shards: int, replicas: int) -> None:
    call(client.indices.create, index=name, body=index_body(shards, replicas))


def current_indexes(client: OpenSearch, alias: str) -> list[str]:
    if not call(client.indices.exists_alias, name=alias):
        return []
    return sorted(call(client.indices.get_alias, name=alias))


def ensure_alias(client: OpenSearch, names: Names, shards: int, replicas: int) -> str:
    """The index behind the alias, creating both on first use."""
    existing = current_indexes(client, names.alias)
    if existing:
        return existing[0]
    index = names.new_index()
    create_index(client, index, shards, replicas)
    call(client.indices.update_aliases,
         body={"actions": [{"add": {"index": index, "alias": names.alias}}]})
    return index


def rebuild(client: OpenSearch, names: Names, records: Iterable[PassageRecord], shards: int,
            replicas: int) -> tuple[str, int]:
    """Build a new versioned index from records, then switch the alias in one atomic request
    and drop the old indexes. A failure deletes the new index: readers keep the old one."""
    index = names.new_index()
    create_index(client, index, shards, 0)
    n = 0
    try:
        # no refreshes and no replicas while loading: both are set once the data is in
        call(client.indices.put_settings, index=index, body={"index": {"refresh_interval": "-1"}})
        for batch in chunks(records):
            bulk_index(client, index, [record_to_source(r) for r in batch])
            n += len(batch)
        call(client.indices.put_settings, index=index,
             body={"index": {"refresh_interval": None, "number_of_replicas": replicas}})
        call(client.indices.refresh, index=index)
        # the server's default wait (30 s) for every primary to be assigned
        health = call(client.cluster.health, index=index, wait_for_status="yellow")
        if health.get("timed_out"):
            raise IndexError_(f"search backend: the new index {index} has unassigned shards")
    except BaseException:
        call(client.indices.delete, index=index, ignore_unavailable=True)
        raise
    old = current_indexes(client, names.alias)
    actions: list[dict[str, Any]] = [{"remove": {"index": o, "alias": names.alias}} for o in old]
    actions.append({"add": {"index": index, "alias": names.alias}})
    call(client.indices.update_aliases, body={"actions": actions})
    for o in old:
        call(client.indices.delete, index=o, ignore_unavailable=True)
    return index, n
