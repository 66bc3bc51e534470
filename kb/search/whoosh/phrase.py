"""Exact phrases with numpy: which documents hold the words one position after another.

Whoosh's own phrase matcher (SpanNear2 with slop 1, ordered, distance exactly 1) walks
postings document by document and unpickles every posting's positions in Python. Here a
word's positions in one segment are decoded once, all postings at a time, into two arrays
(CSR: `starts`, `positions`); kb.search.whoosh.postings caches them beside the postings. A phrase is then
set arithmetic: a document matches when some start p has word k at p + k for every k, i.e.
when the (document, position - k) keys of all the words intersect. Words are taken rarest
first and only the documents still alive are gathered for the next word, so a phrase whose
rare word never lines up stops early.

The matching rule is Whoosh's exactly (tests/kb/test_search_phrase.py compares the two on
generated indexes): a word repeated in the phrase ("data data") needs two positions. Stop
words are dropped from the text and the query alike, positions renumbered, so they never
leave a gap.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import numpy as np
from whoosh.formats import Positions

_NO_IDS = np.zeros(0, np.int64)
_NO_POSITIONS = (np.zeros(1, np.int64), np.zeros(0, np.int32))
# A Whoosh Positions value is a 4-byte big-endian count, then pickle.dumps(deltas, 2): PROTO 2,
# EMPTY_LIST, BINPUT 0, then one item and APPEND, or MARK, the items and APPENDS; STOP. An
# item is BININT1 (K, 1 byte), BININT2 (M, 2 bytes) or BININT (J, 4 bytes), little-endian.
_PREFIX = int.from_bytes(b"\x80\x02]q", "little")  # then the BINPUT's argument, 0
_ARG_BYTES = np.zeros(256, np.int64)
_ARG_BYTES[[ord("K"), ord("M"), ord("J")]] = [1, 2, 4]
_ARG_MASK = np.array([0, 0xFF, 0xFFFF, 0, 0xFFFFFFFF], np.uint32)  # by argument width
_BATCH = 1000  # pickle writes a longer list in batches of MARK ... APPENDS
_FEW = 32  # below this many lists still going, the rest are decoded one by one

IdsOf = Callable[[Any, str, bytes], np.ndarray]
PositionsOf = Callable[[Any, str, bytes], tuple[np.ndarray, np.ndarray]]


def phrase_ids(leaves: Sequence[tuple[Any, int]], field: str, words: list[bytes], ids_of: IdsOf,
               positions_of: PositionsOf) -> np.ndarray:
    """Sorted global doc numbers (deleted ones included, as the engine's term postings) where
    `words` occur consecutively in `field`. `ids_of` gives a word's doc ids in one segment,
    `positions_of` its decoded positions aligned with those ids (see decode_positions)."""
    found = []
    for leaf, offset in leaves:
        local = match_leaf(words, lambda w, leaf=leaf: ids_of(leaf, field, w),
                           lambda w, leaf=leaf: positions_of(leaf, field, w))
        if len(local):
            found.append(local + offset)
    return np.concatenate(found) if found else _NO_IDS


def match_leaf(words: list[bytes], ids_of: Callable[[bytes], np.ndarray],
               positions_of: Callable[[bytes], tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Local doc ids of one segment holding the phrase."""
    distinct = list(dict.fromkeys(words))
    ids = {w: ids_of(w) for w in distinct}
    if not distinct or any(not len(a) for a in ids.values()):
        return _NO_IDS
    order = sorted(distinct, key=lambda w: len(ids[w]))
    docs = ids[order[0]]
    for w in order[1:]:
        docs = docs[np.isin(docs, ids[w], assume_unique=True)]
        if not len(docs):
            return _NO_IDS
    if len(words) == 1:
        return docs
    keys: np.ndarray | None = None  # (doc << 32) | start position, sorted, for the starts still possible
    for w in order:
        starts, positions = positions_of(w)
        rows = np.searchsorted(ids[w], docs)
        lo, counts = starts[rows], starts[rows + 1] - starts[rows]
        # Gather each alive document's run of positions (CSR rows) in one indexing.
        first = np.cumsum(counts) - counts
        take = np.repeat(lo - first, counts) + np.arange(int(counts.sum()))
        pos = positions[take].astype(np.int64)
        doc_of = np.repeat(docs, counts) << 32
        for k in (k for k, x in enumerate(words) if x == w):
            ok = pos >= k  # the word at offset k cannot start a phrase before position 0
            cand = doc_of[ok] | (pos[ok] - k)
            keys = cand if keys is None else np.intersect1d(keys, cand, assume_unique=True)
            if not len(keys):
                return _NO_IDS
        docs = _unique_sorted(keys >> 32)
    return docs


def _unique_sorted(a: np.ndarray) -> np.ndarray:
    if len(a) < 2:
        return a
    return a[np.concatenate(([True], a[1:] != a[:-1]))]


def decode_positions(values: list[bytes], fmt: Any) -> tuple[np.ndarray, np.ndarray]:
    """(starts, positions) of encoded posting values: posting i's positions are
    positions[starts[i]:starts[i + 1]]. Whoosh's Positions values are parsed as bytes by
    numpy (a pickle.loads per posting was most of a phrase's time); any other format, or a
    value not shaped as expected, goes through the format's own decoder."""
    if not values:
        return _NO_POSITIONS
    parsed = _parse_deltas(values, fmt) if type(fmt) is Positions else None
    if parsed is None:
        rows = [fmt.decode_positions(v) for v in values]
        counts = np.fromiter(map(len, rows), np.int64, len(rows))
        flat = np.fromiter(chain.from_iterable(rows), np.int64, int(counts.sum()))
        return np.concatenate(([0], np.cumsum(counts))), flat.astype(np.int32)
    counts, deltas = parsed
    ends = np.cumsum(counts)
    # Positions are stored as deltas within each posting: a running sum restarted per row.
    run = np.cumsum(deltas)
    base = np.concatenate(([0], run))[ends - counts]
    return np.concatenate(([0], ends)), (run - np.repeat(base, counts)).astype(np.int32)


def _parse_deltas(values: list[bytes], fmt: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(per-posting count, position deltas) of Positions values, or None when one does not
    look as described at _PREFIX. All postings' k-th items are read in one numpy step, so
    the steps number the longest lists; the last few long lists are left to Whoosh."""
    lengths = np.fromiter(map(len, values), np.int64, len(values))
    if lengths.min() < 13:  # the shortest value: count, prefix, one BININT1, APPEND, STOP
        return None
    raw = b"".join(values) + bytes(4)  # a 4-byte read at the last byte stays inside
    buf = np.frombuffer(raw, np.uint8)
    # Every byte offset read as a 4-byte integer, without copying (stride 1).
    be32 = np.ndarray((len(raw) - 3,), ">u4", raw, 0, (1,))
    le32 = np.ndarray((len(raw) - 3,), "<u4", raw, 0, (1,))
    ends = np.cumsum(lengths)
    begins = ends - lengths
    counts = be32[begins].astype(np.int64)
    multi = counts > 1
    if ((counts < 1).any() or (le32[begins + 4] != _PREFIX).any() or buf[begins + 8].any()
            or (buf[begins[multi] + 9] != ord("(")).any()):
        return None
    slots = np.cumsum(counts) - counts
    deltas = np.zeros(int(counts.sum()), np.int64)
    order = np.argsort(-counts, kind="stable")  # longest lists first: the live ones are a prefix
    cur = (begins + 9 + multi)[order]
    live = len(order)
    step = 0
    while live >= _FEW and step < _BATCH:
        at = cur[:live]
        width = _ARG_BYTES[buf[at]]
        value = le32[at + 1] & _ARG_MASK[width]
        if not width.all() or (value > 0x7FFFFFFF).any():  # not an item, or a negative BININT
            return None
        deltas[slots[order[:live]] + step] = value
        cur[:live] += 1 + width
        step += 1
        live = int(np.count_nonzero(counts[order[:live]] > step))
    done = order[live:]
    end = cur[live:]
    close = np.where(counts[done] == 1, ord("a"), ord("e"))  # APPEND after one item, APPENDS after a MARK
    if not ((buf[end] == close).all() and (buf[end + 1] == ord(".")).all() and (end + 2 == ends[done]).all()):
        return None
    for i in order[:live].tolist():  # a few very long lists (or longer than one pickle batch)
        row = np.diff(np.asarray(fmt.decode_positions(values[i]), np.int64), prepend=0)
        if len(row) != counts[i]:
            return None
        deltas[slots[i]:slots[i] + counts[i]] = row
    return counts, deltas
