"""From the neutral query tree (kb.search.querytree) to a Whoosh query.

Each leaf (a word, phrase, prefix, fuzzy term, range) is written back in the query syntax
and read by Whoosh's own MultifieldParser, so analysis stays exactly Whoosh's: a word is
searched in the title, the heading and every language field present, each through its
analyser, with the title and heading weighted (FIELD_BOOSTS); a word that analyses to
several tokens (e-government) becomes a group of the query's default operator. The boolean
structure comes from the tree. Around that, this module:

* counts repeated query words (``Repeated``): BM25 as Lucene, Anserini and bm25s run it sums
  a clause per query word, so a word repeated in a long question weighs more;
* maps facet values to their indexed spelling (``country:kor`` = ``country:KOR``) and makes
  entity terms ``Salient``: the engine scores a passage by how much it is about the entity
  (its salience points, kb.salience), not by term statistics, which tags do not have;
* bounds wildcard/fuzzy expansion (InvalidQueryError).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from itertools import islice
from typing import Any

from whoosh import query as wq
from whoosh.qparser import (
    AndGroup,
    FuzzyTermPlugin,
    GtLtPlugin,
    MultifieldParser,
    OrGroup,
    PlusMinusPlugin,
    SingleQuotePlugin,
)

from kb.errors import InvalidQueryError
from kb.search import querytree as qt
from kb.search.whoosh.columns import FACET_INDEX_FIELD, Columns
from kb.search.whoosh.schema import ENGLISH_STOPS, ENTITY_FIELDS, YEAR_KEY, salience_key

# Field weights for BM25F: a title or heading word counts twice a body word (chosen with
# k1 and b in bench/relevance.py --tune; headings share the title's weight because neither
# benchmark collection has headings).
FIELD_BOOSTS = {"title": 2.0, "heading": 2.0}
# Score of an entity match in Whoosh's own matchers (the engine scores it by salience).
ENTITY_SCORE = 1.5
# Fields whose values are matched case-insensitively against the index vocabulary.
CASE_MAPPED = set(ENTITY_FIELDS) | {"type", "lang", YEAR_KEY, "doc_id", "source_id", "event"}


class Repeated(wq.WrappingQuery):
    """A query word (or group) the user wrote `times` times: its score counts that often.
    Whoosh's normalize() drops duplicate clauses instead; without this, CACM's MAP was 0.03
    below a flat BM25 on the same tokens (bench/relevance.py)."""

    def __init__(self, child: wq.Query, times: int = 1) -> None:
        super().__init__(child)
        self.times = times

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Repeated) and self.child == other.child and self.times == other.times

    def __hash__(self) -> int:
        return hash(self.child) ^ hash(self.times)

    def __repr__(self) -> str:
        return f"Repeated({self.child!r}, {self.times})"

    def _rewrap(self, child: wq.Query) -> Repeated:
        return Repeated(child, self.times)

    def normalize(self) -> wq.Query:
        child = self.child.normalize()
        return child if child is wq.NullQuery else Repeated(child, self.times)

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        from whoosh.matching.wrappers import WrappingMatcher

        times = self.times

        class _Scaled(WrappingMatcher):
            def _replacement(self, newchild: Any) -> Any:
                return _Scaled(newchild)

            def score(self) -> float:
                return self.child.score() * times

        return _Scaled(self.child.matcher(searcher, context))


class Salient(wq.ConstantScoreQuery):
    """An entity term (``country:KAZ``) whose passages the engine ranks by their salience
    points for the entity: SALIENCE_BASE + SALIENCE_SPREAD * points / (points + SALIENCE_PIVOT)
    (kb.search.types). Still a
    constant-score query for everything else: like a filter it is read whatever the time
    budget, and Whoosh's own matchers give it ENTITY_SCORE."""

    def __init__(self, child: wq.Term, score: float = ENTITY_SCORE) -> None:
        super().__init__(child, score)

    @property
    def key(self) -> str:
        return salience_key(self.child.fieldname, self.child.text)

    def _rewrap(self, child: wq.Query) -> Salient:
        return Salient(child, self.score)

    def __repr__(self) -> str:
        return f"Salient({self.child!r})"


def make_parser(schema: Any, text_fields: Iterable[str], mode: str,
                boosts: dict[str, float] | None = None) -> MultifieldParser:
    fields = ["title", "heading", *text_fields]
    group = OrGroup if mode == "or" else AndGroup
    parser = MultifieldParser(fields, schema, fieldboosts=boosts or FIELD_BOOSTS, group=group)
    parser.remove_plugin_class(SingleQuotePlugin)  # apostrophes are not quotes here
    parser.add_plugin(FuzzyTermPlugin())
    # "-" negates only at the start of a word: e-government and open-data stay whole.
    parser.add_plugin(PlusMinusPlugin(plusexpr=r"(?<![^\s(])\+(?=\w)", minusexpr=r"(?<![^\s(])-(?=\w)"))
    parser.add_plugin(GtLtPlugin())
    return parser


class Compiler:
    """Compiles trees for one schema; leaves are cached (parsing a word costs ~50 µs)."""

    LEAF_CACHE = 4096

    def __init__(self, schema: Any, title_weight: float = FIELD_BOOSTS["title"]) -> None:
        self.schema = schema
        # Headings are weighted as titles: neither benchmark collection has headings to tune them on.
        self.boosts = {"title": float(title_weight), "heading": float(title_weight)}
        self._parsers: dict[tuple, MultifieldParser] = {}
        self._leaves: dict[tuple, wq.Query | None] = {}
        self._lock = threading.Lock()

    def compile(self, parsed: qt.ParsedQuery, text_fields: list[str], columns: Columns, reader: Any,
                settings: dict[str, Any]) -> wq.Query | None:
        """The Whoosh query of a parsed query, or None when it matches everything."""
        if parsed.root is None:
            return None
        key = (tuple(text_fields), parsed.mode)
        built = self._node(parsed.root, key)
        if built is None:
            return wq.NullQuery
        # Built without normalize() so repeated words survive to be counted; normalized
        # after (one-word phrases such as org:"ECLAC" become terms before _fix maps them).
        q = count_repeats(built).normalize()
        errors = _errors(q)
        if errors:
            raise InvalidQueryError(f"cannot parse the query {parsed.text!r}: {errors[0]}")
        limit = int(settings.get("max_wildcard_terms", 2000))
        try:
            fixed = q.accept(lambda node: _fix(node, columns, reader, limit))
            return fixed.normalize().accept(lambda n: use_union(n) if isinstance(n, wq.Or) else n)
        except InvalidQueryError:
            raise
        except Exception as exc:
            raise InvalidQueryError(f"cannot parse the query: {exc}") from exc

    def _node(self, node: qt.Node, key: tuple) -> wq.Query | None:
        # None where Whoosh's parser gives nothing (a stop word in every field searched);
        # groups drop such children and a binary operator keeps its other side, as Whoosh does.
        if isinstance(node, (qt.And, qt.Or)):
            subs = [s for s in (self._node(c, key) for c in node.children) if s is not None]
            return (wq.And if isinstance(node, qt.And) else wq.Or)(subs, boost=node.boost)
        if isinstance(node, qt.Not):
            child = self._node(node.child, key)
            return wq.Not(child) if child else None
        if isinstance(node, (qt.AndNot, qt.AndMaybe)):
            a, b = (self._node(c, key) for c in qt.children(node))
            if a is None or b is None:
                return b if a is None else a
            return (wq.AndNot if isinstance(node, qt.AndNot) else wq.AndMaybe)(a, b)
        if isinstance(node, qt.Entity):
            return wq.Term(node.field, node.id)
        return self._leaf(node, key)

    def _leaf(self, node: qt.Node, key: tuple) -> wq.Query | None:
        ck = (node, key)
        with self._lock:
            if ck in self._leaves:
                return self._leaves[ck]
        parser = self._parser(key)
        syntax = leaf_syntax(node)
        try:
            q = parser.parse(syntax, normalize=False)
        except Exception:  # noqa: BLE001 — Whoosh trips on some syntax mixes: fall back to words
            try:
                q = parser.parse(re.sub(r"[^\w\s]", " ", syntax), normalize=False)
            except Exception as exc:
                raise InvalidQueryError(f"cannot parse the query: {exc}") from exc
        # The parser wraps what it read in one group of the default operator: the leaf is
        # its only child (none for a word every field drops, such as a stop word).
        if isinstance(q, wq.CompoundQuery):
            q = q.subqueries[0] if q.subqueries else None
        elif q is wq.NullQuery:
            q = None
        with self._lock:
            if len(self._leaves) >= self.LEAF_CACHE:
                self._leaves.clear()
            self._leaves[ck] = q
        return q

    def _parser(self, key: tuple) -> MultifieldParser:
        with self._lock:
            p = self._parsers.get(key)
            if p is None:
                p = self._parsers[key] = make_parser(self.schema, key[0], key[1], self.boosts)
            return p


def leaf_syntax(node: qt.Node) -> str:
    """A leaf written back in the query syntax Whoosh's parser reads."""
    field = f"{node.field}:" if getattr(node, "field", None) else ""
    boost = f"^{node.boost:g}" if getattr(node, "boost", 1.0) != 1.0 else ""
    if isinstance(node, qt.Word):
        return f"{field}{node.text}{boost}"
    if isinstance(node, qt.Phrase):
        slop = f"~{node.slop}" if node.slop != 1 else ""
        return f'{field}"{node.text}"{slop}{boost}'
    if isinstance(node, qt.Prefix):
        return f"{field}{node.text}*{boost}"
    if isinstance(node, qt.Wildcard):
        return f"{field}{node.text}{boost}"
    if isinstance(node, qt.Fuzzy):
        prefix = f"/{node.prefix}" if node.prefix else ""
        return f"{field}{node.text}~{node.maxdist}{prefix}{boost}"
    if isinstance(node, qt.Range):
        start = f"{node.start} " if node.start else ""
        end = f" {node.end}" if node.end else ""
        return f"{field}{'{' if node.start_excl else '['}{start}TO{end}{'}' if node.end_excl else ']'}{boost}"
    raise TypeError(f"not a leaf: {node!r}")


def count_repeats(q: wq.Query) -> wq.Query:
    """Merge identical top-level clauses of an AND/OR into one Repeated clause (in the
    positive side of `a -b`; what is excluded is excluded once)."""
    if isinstance(q, (wq.AndNot, wq.AndMaybe)):
        return q.__class__(count_repeats(q.a), q.b)
    if not isinstance(q, (wq.And, wq.Or)):
        return q
    flat = _flatten(q)
    counts: dict[wq.Query, int] = {}
    for c in flat:
        counts[c] = counts.get(c, 0) + 1
    if len(counts) == len(flat) == len(q.subqueries):
        return q
    subs = [c if n == 1 or isinstance(c, (wq.Not, wq.ConstantScoreQuery)) else Repeated(c, n)
            for c, n in counts.items()]
    return q.__class__(subs, boost=q.boost)


def _flatten(q: wq.Query) -> list[wq.Query]:
    """The clauses of an AND/OR with nested groups of the same kind inlined, as
    normalize() would do, but keeping duplicates. A word's own group (the word in each
    field) stays whole; empty groups and English stop words are dropped."""
    out: list[wq.Query] = []
    for c in q.subqueries:
        if isinstance(c, wq.CompoundQuery) and not c.subqueries:
            continue
        if _is_word_group(c) and not any(t.fieldname == "title" for t in c.subqueries):
            # An English stop word ("for"), kept only by another language's field
            # (text_fr has no English stop list): required in an AND search, it would
            # make "cloud for government" match nothing once one French passage exists.
            continue
        if type(c) is type(q) and c.boost == 1.0 and not _is_word_group(c):
            out.extend(_flatten(c))
        else:
            out.append(c)
    return out


def _is_word_group(q: wq.Query) -> bool:
    """One word or phrase searched in each text field, as the parser writes it."""
    subs = getattr(q, "subqueries", None)
    if not subs or not all(isinstance(t, (wq.Term, wq.Phrase)) for t in subs):
        return False
    return len({getattr(t, "text", None) or tuple(getattr(t, "words", ())) for t in subs}) == 1


def _fix(node: wq.Query, columns: Columns, reader: Any, limit: int) -> wq.Query:
    if isinstance(node, wq.Term) and node.fieldname in CASE_MAPPED and isinstance(node.text, str):
        term = wq.Term(node.fieldname, columns.actual(node.fieldname, node.text))
        if node.fieldname in ENTITY_FIELDS:
            return Salient(term)
        return term
    if isinstance(node, wq.MultiTerm) and not isinstance(node, (wq.TermRange, wq.NumericRange)):
        n = sum(1 for _ in islice(node._btexts(reader), limit + 1))
        if n > limit:
            shown = getattr(node, "text", "")
            raise InvalidQueryError(
                f"'{shown}' expands to more than {limit} index terms; make it more specific")
    return node


def expanded_terms(q: wq.Query, reader: Any) -> set[tuple[str, Any]]:
    """(field, text) of every term the query can match, wildcards and fuzzy terms expanded
    (Whoosh's existing_terms compares str with bytes and finds nothing)."""
    out: set[tuple[str, Any]] = set()
    for node in _leaves(q):
        if isinstance(node, wq.MultiTerm) and not isinstance(node, (wq.TermRange, wq.NumericRange)):
            out.update((node.fieldname, b) for b in islice(node._btexts(reader), 200))
        else:
            out.update(node.terms(phrases=True))
    return out


def _leaves(q: wq.Query) -> Iterable[wq.Query]:
    # Terms under a negation are not highlighted.
    if isinstance(q, wq.Not):
        return
    if isinstance(q, wq.AndNot):
        yield from _leaves(q.a)
        return
    kids = list(q.children())
    if not kids or isinstance(q, wq.MultiTerm):
        yield q
    for c in kids:
        yield from _leaves(c)


def _errors(q: wq.Query) -> list[str]:
    """Whoosh marks what it could not parse with an `error` attribute instead of raising."""
    found = [str(q.error)] if getattr(q, "error", None) else []
    for c in q.children():
        found.extend(_errors(c))
    return found


def use_union(node: wq.Or) -> wq.Or:
    """Whoosh's automatic choice for small indexes, the preloaded ArrayUnionMatcher, drops
    documents whose summed score is not positive (it marks hits by score > 0), so facet
    totals came out short. The binary tree of union matchers is exact."""
    node.matcher_type = wq.Or.DEFAULT_MATCHER
    return node


def filter_query(filters: dict[str, list[str]], columns: Columns) -> wq.Query | None:
    """AND across fields, OR within a field; scores nothing."""
    parts = []
    for facet, values in filters.items():
        if facet not in FACET_INDEX_FIELD:
            raise InvalidQueryError(f"unknown filter field {facet!r}; use one of {', '.join(FACET_INDEX_FIELD)}")
        vals = [str(v) for v in (values if isinstance(values, (list, tuple, set)) else [values]) if str(v)]
        if not vals:
            continue
        name = FACET_INDEX_FIELD[facet]
        parts.append(use_union(wq.Or([wq.Term(name, columns.actual(name, v)) for v in vals])))
    if not parts:
        return None
    return wq.ConstantScoreQuery(wq.And(parts) if len(parts) > 1 else parts[0], 0.0)


__all__ = ["ENGLISH_STOPS", "ENTITY_SCORE", "FIELD_BOOSTS", "Compiler", "Repeated", "Salient", "count_repeats",
           "expanded_terms", "filter_query", "leaf_syntax", "make_parser"]
