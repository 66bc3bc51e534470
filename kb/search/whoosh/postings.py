"""Reading a term's postings from a Whoosh segment into numpy arrays, and caching them.

Whoosh's matchers hand out postings one document at a time in Python (~5 µs a posting).
Here a term's postings in one segment are read a block at a time (Whoosh stores 128
delta-coded ids per block) into two arrays, local doc ids and term frequencies, which the
query engine (kb.search.whoosh.engine) scores and combines; a phrase word's positions come from the
same blocks, decoded by kb.search.whoosh.phrase.

Decoded arrays are kept in POSTINGS_CACHE, keyed by index folder, segment, field and term:
unpickling blocks is most of a query's cost, and a segment never changes once written.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.mcore import ListMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound

from kb.search.whoosh.phrase import decode_positions

_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.float64))


class _PostingsCache:
    """Decoded postings (and phrase positions) by (segment id, field, term), least recently
    used out first.

    Unpickling a block (ids, frequencies *and* positions) is most of a query's cost, and
    segments never change once written, so decoded arrays stay valid until their segment is
    merged away (then they simply age out). Bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.items: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> tuple[np.ndarray, np.ndarray] | None:
        with self.lock:
            hit = self.items.get(key)
            if hit is not None:
                self.items.move_to_end(key)
            return hit

    def put(self, key: tuple, value: tuple[np.ndarray, np.ndarray]) -> None:
        size = value[0].nbytes + value[1].nbytes
        if size > self.max_bytes // 8:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = value
            self.bytes += size
            while self.bytes > self.max_bytes and self.items:
                _, (a, b) = self.items.popitem(last=False)
                self.bytes -= a.nbytes + b.nbytes


POSTINGS_CACHE = _PostingsCache(96 << 20)


def leaf_folder(leaf: Any) -> str | None:
    """The index folder a segment reader reads from (None when it has none, e.g. in memory):
    part of any per-segment cache key, as segment ids repeat across copies of an index."""
    st = getattr(leaf, "_storage", None)
    for cand in (st, getattr(st, "b", None), getattr(st, "a", None)):
        folder = getattr(cand, "folder", None)
        if folder:
            return str(folder)
    return None


def segment_key(leaf: Any) -> tuple[str, str] | None:
    """(index folder, segment id) of a segment reader, the key of anything cached per
    segment; None when it has no folder (nothing is cached then)."""
    seg = leaf.segment() if hasattr(leaf, "segment") else None
    # Segment ids are unique within one index folder only: a copied home (backup, restore,
    # tests) holds the same ids, so the folder is part of the key (found by
    # tests/reliability: a search on one copy returned another copy's postings).
    folder = leaf_folder(leaf)
    return (folder, seg.segment_id()) if seg is not None and folder else None


def _cache_key(leaf: Any, field: str, btext: bytes) -> tuple | None:
    key = segment_key(leaf)
    return None if key is None else (*key, field, btext)


def leaf_postings(leaf: Any, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(local doc ids, term frequencies) of one term in one segment, deleted docs included
    (the caller masks them with the live-document array)."""
    key = _cache_key(leaf, field, btext)
    if key is not None:
        hit = POSTINGS_CACHE.get(key)
        if hit is not None:
            return hit
    value = _read_postings(leaf, field, btext)
    if key is not None:
        POSTINGS_CACHE.put(key, value)
    return value


def leaf_positions(leaf: Any, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A word's positions in one segment, aligned with leaf_postings (kb.search.whoosh.phrase).
    Cached like the postings: reading and decoding them was most of a phrase's cost."""
    key = _cache_key(leaf, field, btext)
    pkey = None if key is None else (*key, "positions")
    hit = None if pkey is None else POSTINGS_CACHE.get(pkey)
    if hit is not None:
        return hit
    values: list[Any] = []
    postings = _read_postings(leaf, field, btext, values)
    if len(values) != len(postings[0]):
        raise RuntimeError(f"{field}:{btext!r}: {len(values)} position values for {len(postings[0])} postings")
    positions = decode_positions(values, leaf.schema[field].format)
    if key is not None:
        POSTINGS_CACHE.put(key, postings)
        POSTINGS_CACHE.put(pkey, positions)
    return positions


def _read_postings(leaf: Any, field: str, btext: bytes, values: list[Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ids, frequencies); with `values`, each posting's encoded value (positions) is
    appended to it from the same blocks, so a phrase word is read once, not twice."""
    try:
        m = leaf.postings(field, btext)
    except TermNotFound:
        return _EMPTY
    if isinstance(m, FilterMatcher):
        m = m.child
    if isinstance(m, W3LeafMatcher) and not m._byteids:
        ids_parts, w_parts = [], []
        while not m._atend:
            if m._data is None:
                m._read_data()
            raw_ids, weights = m._data[0], m._data[1]
            ids = np.cumsum(np.asarray(raw_ids, dtype=np.int64))
            ids_parts.append(ids)
            if weights is None:
                w_parts.append(np.ones(len(ids)))
            elif isinstance(weights, float):
                w_parts.append(np.full(len(ids), weights))
            else:
                w_parts.append(np.asarray(weights, dtype=np.float64))
            if values is not None:
                values.extend(m._data[2])  # a list: positional formats have no fixed value size
            m._next_block()
        if not ids_parts:
            return _EMPTY
        return np.concatenate(ids_parts), np.concatenate(w_parts)
    if isinstance(m, ListMatcher):
        ids = np.asarray(m._ids, dtype=np.int64)
        if values is not None:
            values.extend(m._values or ())
        if m._weights:
            return ids, np.asarray(m._weights, dtype=np.float64)
        return ids, np.full(len(ids), float(m._all_weights or 1.0))
    ids_l, w_l = [], []
    while m.is_active():
        ids_l.append(m.id())
        w_l.append(m.weight())
        if values is not None:
            values.append(m.value())
        m.next()
    return np.asarray(ids_l, dtype=np.int64), np.asarray(w_l, dtype=np.float64)


def live_keys(leaves: list[tuple[Any, int]], live: np.ndarray, field: Any, name: str,
              values: Iterable[str]) -> tuple[list[str], np.ndarray]:
    """The values of a unique-key field (a passage id) that a live document holds, in the
    order given, and those documents' global numbers: one postings lookup a value."""
    found, nums = [], []
    for value in dict.fromkeys(values):
        btext = field.to_bytes(value)
        for leaf, offset in leaves:
            local, _tf = leaf_postings(leaf, name, btext)
            docs = [int(d) + offset for d in local if live[int(d) + offset]]
            if docs:
                found.append(value)
                nums.append(docs[0])
                break
    return found, np.asarray(nums, dtype=np.int64)
