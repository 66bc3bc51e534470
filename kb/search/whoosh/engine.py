"""Vectorised query evaluation: every match and its BM25 score, with numpy.

Whoosh's matchers walk postings one document at a time in Python (~5 µs a posting), which
put a common word at 100k passages far past the 50 ms budget. Here each term's postings come
as numpy arrays (read a block at a time and cached in kb.search.whoosh.postings), BM25 is computed
for the whole array at once, and AND / OR / NOT become sorted-array set operations. Exact
phrases are matched in kb.search.whoosh.phrase. Query types this module does not know (numeric
ranges, sloppy phrases…) are handed to Whoosh's own matcher for that sub-query, so results
never depend on which path ran.

The time budget is checked before each word (or phrase, or Whoosh sub-query) is read: once it
has passed, the rest is left out, not counted as matching nothing. An OR keeps the words read
in time, an AND intersects only the clauses read in time (so a cut-short AND may hold
passages lacking a word it never read), and the result is marked truncated. Filters
(constant-score clauses) and exclusions (NOT, -word) are always read: leaving one out would
return passages outside the filter or excluded by the user; filters alone, with no scoring
clause read, are no result.

Scores are BM25F (Robertson, Zaragoza & Taylor 2004): a word's frequencies in title, heading
and text, each normalised by its field's length and weighted by the field boost, are added
before one saturation and multiplied by one idf (df = passages holding the word in any
field). Scoring each field on its own and adding, as before, gave every field its own idf:
a common word that appears in two headings scored there as a rare one. The average field
length counts only passages that have the field, so a handful of French passages are not
normalised against the English ones. A single-field term (`title:word`) is plain BM25.
"""
from __future__ import annotations

import time
from math import log
from typing import Any

import numpy as np
from whoosh import query as wq

from kb.search.types import SALIENCE_BASE, SALIENCE_PIVOT, SALIENCE_SPREAD
from kb.search.whoosh.compile import Repeated, Salient
from kb.search.whoosh.phrase import phrase_ids
from kb.search.whoosh.postings import leaf_positions, leaf_postings

_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.float64))
# (doc numbers, scores); None where a sub-query was not read because the budget ran out.
Part = tuple[np.ndarray, np.ndarray]


class Engine:
    """Evaluates one query against one searcher generation."""

    def __init__(self, searcher: Any, columns: Any, k1: float, b: float, deadline: float) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.leaves = self.reader.leaf_readers()
        self.columns = columns
        self.k1, self.b = k1, b
        self.deadline = deadline
        self.truncated = False
        self._exempt = 0  # > 0 while evaluating a filter, which the time budget never cuts
        self._n = self.reader.doc_count_all()
        self._field_stats: dict[str, tuple[float, int]] = {}

    # -- public -----------------------------------------------------------------
    def run(self, q: wq.Query) -> tuple[np.ndarray, np.ndarray]:
        ids, scores = self._eval(q) or _EMPTY
        live = self.columns.live
        keep = live[ids]
        return ids[keep], scores[keep]

    # -- tree -------------------------------------------------------------------
    def _eval(self, q: wq.Query) -> Part | None:
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return _EMPTY
        if isinstance(q, wq.Term):
            return self._term(q.fieldname, q.text, q.boost)
        if isinstance(q, Repeated):
            part = self._eval(q.child)
            return None if part is None else (part[0], part[1] * q.times)
        if isinstance(q, Salient):
            return self._salient(q)
        if isinstance(q, wq.ConstantScoreQuery):
            part = self._exempt_eval(q.child)
            return None if part is None else (part[0], np.full(len(part[0]), float(q.score)))
        if isinstance(q, wq.Every):
            ids = self.columns.live_docs().astype(np.int64)
            return ids, np.zeros(len(ids))
        if isinstance(q, wq.Not):
            part = self._exempt_eval(q.query)
            if part is None:
                return None
            every = self.columns.live_docs().astype(np.int64)
            rest = every[~np.isin(every, part[0], assume_unique=True)]
            return rest, np.zeros(len(rest))
        if isinstance(q, (wq.AndNot, wq.AndMaybe)):
            a = self._eval(q.a)
            # What is excluded is always read: leaving it out would return excluded passages.
            b = None if a is None else (self._exempt_eval(q.b) if isinstance(q, wq.AndNot) else self._eval(q.b))
            if a is None or b is None:
                return a
            if isinstance(q, wq.AndMaybe):
                return _add_optional(a[0], a[1], b[0], b[1])
            keep = ~np.isin(a[0], b[0], assume_unique=True)
            return a[0][keep], a[1][keep]
        if isinstance(q, wq.And):
            return self._and(q.subqueries)
        if isinstance(q, wq.Or):
            # Whoosh's normalize() flattens nested ORs, so the per-field terms of every word
            # may sit in one OR: group them back by term text, one BM25F group per word.
            groups: dict[Any, list[wq.Term]] = {}
            others = []
            for c in q.subqueries:
                if isinstance(c, wq.Term) and self._scorable(c.fieldname):
                    groups.setdefault(c.text, []).append(c)
                else:
                    others.append(c)
            return _union_read([self._bm25f(g) for g in groups.values()] + [self._eval(c) for c in others])
        if isinstance(q, (wq.Prefix, wq.Wildcard, wq.FuzzyTerm, wq.Regex)):
            return self._expanded(q)
        if isinstance(q, wq.Phrase) and q.slop == 1 and self._has_positions(q.fieldname):
            return self._phrase(q)
        return self._whoosh(q)

    def _has_positions(self, field: str) -> bool:
        schema = self.reader.schema
        return field in schema and schema[field].format.supports("positions")

    def _phrase(self, q: wq.Phrase) -> Part | None:
        """Exact phrase (kb.search.whoosh.phrase), scored as the sum of its words' BM25 scores in
        the field. One unit of work for the time budget: matched whole or not at all."""
        field = q.fieldname
        fieldobj = self.reader.schema[field]
        words = [w if isinstance(w, bytes) else fieldobj.to_bytes(w) for w in q.words]
        if not words:
            return _EMPTY
        if self._out_of_time():
            return None
        ids = phrase_ids(self.leaves, field, words, lambda leaf, f, w: leaf_postings(leaf, f, w)[0], leaf_positions)
        if not len(ids):
            return _EMPTY
        # Score: the words' BM25 scores in this field, restricted to the phrase matches.
        parts = [self._term(field, w, q.boost, check=False) or _EMPTY for w in words]
        total = np.zeros(len(ids))
        for t_ids, t_sc in parts:
            pos = np.searchsorted(t_ids, ids)
            total += t_sc[np.minimum(pos, len(t_ids) - 1)]
        return ids, total

    def _and(self, subs: list[wq.Query]) -> Part | None:
        pos = [c for c in subs if not isinstance(c, wq.Not)]
        neg = [c.query for c in subs if isinstance(c, wq.Not)]
        if pos:
            # Clauses not read in time are left out of the intersection (module docstring),
            # but filters alone are not a result: if no scoring clause was read, nothing was.
            read = [(c, self._eval(c)) for c in pos]
            if all(p is None for c, p in read if not isinstance(c, wq.ConstantScoreQuery)):
                return None
            parts = sorted((p for _, p in read if p is not None), key=lambda p: len(p[0]))
            ids, scores = parts[0]
            for o_ids, o_sc in parts[1:]:
                if not len(ids):
                    break
                ids, i1, i2 = np.intersect1d(ids, o_ids, assume_unique=True, return_indices=True)
                scores = scores[i1] + o_sc[i2]
        else:
            ids = self.columns.live_docs().astype(np.int64)
            scores = np.zeros(len(ids))
        if neg and len(ids):
            negs = _union_read([self._exempt_eval(c) for c in neg])
            if negs is None and not pos:
                return None
            if negs is not None:
                keep = ~np.isin(ids, negs[0], assume_unique=True)
                ids, scores = ids[keep], scores[keep]
        return ids, scores

    def _salient(self, q: Salient) -> Part | None:
        """The entity's passages, each scored by its salience points for the entity (a
        passage indexed without points counts one)."""
        part = self._exempt_eval(q.child)
        if part is None or not len(part[0]):
            return part
        ids = part[0]
        points = np.ones(len(ids))
        if "salience" in self.reader.schema:
            s_ids, s_tf = self._postings("salience", q.key.encode("utf-8"))
            if len(s_ids):
                pos = np.minimum(np.searchsorted(s_ids, ids), len(s_ids) - 1)
                found = s_ids[pos] == ids
                points[found] = s_tf[pos[found]]
        return ids, SALIENCE_BASE + SALIENCE_SPREAD * points / (points + SALIENCE_PIVOT)

    def _exempt_eval(self, q: wq.Query) -> Part | None:
        """Evaluate `q` whatever the time budget says (filters and exclusions)."""
        self._exempt += 1
        try:
            return self._eval(q)
        finally:
            self._exempt -= 1

    def _expanded(self, q: wq.MultiTerm) -> Part | None:
        texts = list(q._btexts(self.reader))
        parts = [self._term(q.fieldname, t, q.boost, constant=getattr(q, "constantscore", False)) for t in texts]
        return _union_read(parts)

    # -- leaves -----------------------------------------------------------------
    def _out_of_time(self) -> bool:
        """True when the budget has run out (the result is then marked truncated) and the
        caller should not read its postings; never while a filter is being evaluated."""
        if self._exempt or time.monotonic() <= self.deadline:
            return False
        self.truncated = True
        return True

    def _term(self, field: str, text: Any, boost: float, constant: bool = False, check: bool = True) -> Part | None:
        if field not in self.reader.schema:
            return _EMPTY
        fieldobj = self.reader.schema[field]
        btext = text if isinstance(text, bytes) else fieldobj.to_bytes(text)
        if check and self._out_of_time():
            return None
        ids, tf = self._postings(field, btext)
        if not len(ids):
            return _EMPTY
        if constant or not fieldobj.scorable:
            return ids, np.full(len(ids), float(boost) if constant else 0.0)
        avgfl, _ = self._stats(field)
        lengths = self._lengths(field)[ids]
        norm = self.k1 * ((1 - self.b) + self.b * lengths / avgfl)
        return ids, boost * self._idf(len(ids)) * (tf * (self.k1 + 1)) / (tf + norm)

    def _postings(self, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
        """(global doc numbers, term frequencies) of one term over every segment."""
        ids_parts, tf_parts = [], []
        for leaf, offset in self.leaves:
            ids, tf = leaf_postings(leaf, field, btext)
            if len(ids):
                ids_parts.append(ids + offset)
                tf_parts.append(tf)
        if not ids_parts:
            return _EMPTY
        return np.concatenate(ids_parts), np.concatenate(tf_parts)

    def _idf(self, df: int) -> float:
        """Lucene's BM25 idf (kb.search.whoosh.scoring)."""
        return log(1.0 + (self._n - df + 0.5) / (df + 0.5))

    def _scorable(self, field: str) -> bool:
        return field in self.reader.schema and self.reader.schema[field].scorable

    def _bm25f(self, terms: list[wq.Term]) -> Part | None:
        """One word searched in several fields, scored as BM25F: the fields' length-normalised
        frequencies, weighted by field boost, are added before saturation."""
        if self._out_of_time():
            return None
        parts = []
        for t in terms:
            fieldobj = self.reader.schema[t.fieldname]
            btext = t.text if isinstance(t.text, bytes) else fieldobj.to_bytes(t.text)
            ids, tf = self._postings(t.fieldname, btext)
            if not len(ids):
                continue
            avgfl, _ = self._stats(t.fieldname)
            norm = (1 - self.b) + self.b * self._lengths(t.fieldname)[ids] / avgfl
            parts.append((ids, t.boost * tf / norm))
        if not parts:
            return _EMPTY
        ids, pseudo = _union(parts)
        return ids, self._idf(len(ids)) * pseudo * (self.k1 + 1) / (self.k1 + pseudo)

    def _lengths(self, field: str) -> np.ndarray:
        return self.columns.lengths(field)

    def _stats(self, field: str) -> tuple[float, int]:
        st = self._field_stats.get(field)
        if st is None:
            lengths = self._lengths(field)
            has = int(np.count_nonzero(lengths))
            total = float(self.reader.field_length(field))
            st = self._field_stats[field] = ((total / has) if has else 1.0, has)
        return st

    def _whoosh(self, q: wq.Query) -> Part | None:
        """Whoosh's own matcher for query types without a vectorised path; keeps what it
        found when the budget runs out mid-walk."""
        if self._out_of_time():
            return None
        ids: list[int] = []
        scores: list[float] = []
        context = self.searcher.context(weighting=self.searcher.weighting, needs_current=True)
        for sub, offset in self.searcher.leaf_searchers():
            m = q.matcher(sub, context)
            i = 0
            while m.is_active():
                ids.append(m.id() + offset)
                scores.append(m.score())
                m.next()
                i += 1
                if not i & 511 and self._out_of_time():
                    break
        if not ids:
            return _EMPTY
        a = np.asarray(ids, dtype=np.int64)
        order = np.argsort(a, kind="stable")
        return a[order], np.asarray(scores, dtype=np.float64)[order]


def _union_read(parts: list[Part | None]) -> Part | None:
    """The union of the parts read in time; None when none was."""
    read = [p for p in parts if p is not None]
    return _union(read) if read or not parts else None


def _union(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return _EMPTY
    if len(parts) == 1:
        return parts[0]
    ids = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    uniq, inv = np.unique(ids, return_inverse=True)
    return uniq, np.bincount(inv, weights=scores, minlength=len(uniq))


def _add_optional(a_ids: np.ndarray, a_sc: np.ndarray, b_ids: np.ndarray, b_sc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, i1, i2 = np.intersect1d(a_ids, b_ids, assume_unique=True, return_indices=True)
    out = a_sc.copy()
    out[i1] += b_sc[i2]
    return a_ids, out
