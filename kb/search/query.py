"""The query language: from a user's string to a Whoosh query (see docs/query-language.md).

Whoosh's parser does the grammar (words, "phrases", AND/OR/NOT, -word, grouping,
field:value, ranges, word~, prefix*). Around it this module:

* rewrites plain words and adjacent n-grams that name a country or organisation into
  ``(words OR country:KOR)`` using the entity resolver, so "Korea" finds a KOR-tagged
  passage that only says "Seoul";
* maps facet values to their indexed spelling (``country:kor`` = ``country:KOR``) and gives
  entity terms a constant score (they carry no term statistics);
* bounds wildcard/fuzzy expansion and query length (InvalidQueryError);
* decides the default operator: AND for short keyword queries (with OR fallback decided by
  the caller), OR for long, question-like queries (BM25 ranks passages with more of the
  words first).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
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
from kb.search.facets import Columns
from kb.search.schema import ENGLISH_STOPS, ENTITY_FIELDS, YEAR_KEY

Resolver = Callable[[str], list[tuple[str, str]]]

# Field weights for BM25F: a title or heading word counts twice a body word (chosen with
# k1 and b in bench/relevance.py --tune; headings share the title's weight because neither
# benchmark collection has headings).
FIELD_BOOSTS = {"title": 2.0, "heading": 2.0}
# Score of a passage matched only through its entity tags.
ENTITY_SCORE = 1.5
# Queries with at least this many plain words are treated as natural language (OR).
NATURAL_LANGUAGE_WORDS = 5
MAX_NGRAM = 5
# Fields whose values are matched case-insensitively against the index vocabulary.
CASE_MAPPED = set(ENTITY_FIELDS) | {"type", "lang", YEAR_KEY, "doc_id", "source_id", "event"}
OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}

_TOKEN = re.compile(r'"[^"]*"?|\(|\)|[^\s()"]+')
_PLAIN_WORD = re.compile(r"^[^\W_][\w'’.&-]*$", re.UNICODE)
# What makes a query "written in the query language": parentheses alone do not (people
# write "TSS (Time Sharing System)"); quotes, operators, -/+ prefixes, field:value and
# wildcard/fuzzy/boost marks do.
_EXPLICIT = re.compile(r'"|(^|[\s(])[-+]|\b(AND|OR|NOT|ANDNOT|ANDMAYBE)\b|\b(?:FIELDS):|[*~^]')


def _explicit_re() -> re.Pattern[str]:
    from kb.search.schema import build_schema

    names = "|".join(sorted(build_schema().names(), key=len, reverse=True))
    return re.compile(_EXPLICIT.pattern.replace("FIELDS", names))


_EXPLICIT = _explicit_re()
_BOOLEAN = re.compile(r"\b(AND|OR|NOT|ANDNOT|ANDMAYBE)\b")


class Repeated(wq.WrappingQuery):
    """A query word (or group) the user wrote `times` times: its score counts that often.

    BM25 as Lucene, Anserini and bm25s run it sums a clause per query word, so a word
    repeated in a long question weighs more; Whoosh's normalize() drops duplicate clauses
    instead. Without this, CACM's MAP was 0.03 below a flat BM25 on the same tokens
    (bench/relevance.py)."""

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


def check_length(q: str, settings: dict[str, Any]) -> None:
    limit = int(settings.get("max_query_length", 1000))
    if len(q) > limit:
        raise InvalidQueryError(f"the query is {len(q)} characters long; the limit is {limit}")


def is_plain(q: str) -> bool:
    """True when the query uses no operator, quote, group, field or wildcard: only then may
    the default operator be relaxed from AND to OR."""
    return not _EXPLICIT.search(q)


def plain_words(q: str) -> list[str]:
    return [t for t in _TOKEN.findall(q) if _PLAIN_WORD.match(t) and t not in OPERATORS]


def choose_mode(q: str) -> str:
    """'and' or 'or' for the first attempt (see module doc). Long queries are prose even
    when they quote a phrase or use a parenthesis; only boolean operators keep AND."""
    # Stop words do not count: "cloud computing for independent elections" is four words
    # a user wants together, not a question.
    prose = re.sub(r"[?!.,;:]+(?=\s|$)", " ", q)  # "profiles?" is a word
    content = [w for w in plain_words(prose) if w.lower() not in ENGLISH_STOPS]
    if not _BOOLEAN.search(q) and len(content) >= NATURAL_LANGUAGE_WORDS:
        return "or"
    return "and"


def _clean(q: str) -> str:
    # `?` ends questions far more often than it is meant as a one-character wildcard.
    q = q.replace("?", " ")
    # A lone * (or one glued to punctuation) is not a prefix search: it would expand to every term.
    q = re.sub(r"(?<!\w)\*+(?!\w)", " ", q)
    # Balance quotes: an unclosed phrase runs to the end of the query.
    if q.count('"') % 2:
        q += '"'
    return q


def expand_entities(q: str, resolver: Resolver | None) -> str:
    """Rewrite runs of plain words: the longest n-gram the resolver knows becomes
    ``((words) OR field:id ...)``."""
    if resolver is None:
        return q
    tokens = _TOKEN.findall(q)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if not _is_candidate(tokens[i]):
            out.append(tokens[i])
            i += 1
            continue
        run_end = i
        while run_end < len(tokens) and run_end - i < MAX_NGRAM and _is_candidate(tokens[run_end]):
            run_end += 1
        for j in range(run_end, i, -1):
            phrase = " ".join(tokens[i:j])
            if j - i == 1 and (len(phrase) < 2 or (phrase.lower() in ENGLISH_STOPS and not phrase.isupper())):
                continue  # "who" is a question word, "WHO" the organisation
            try:
                found = [(t, e) for t, e in (resolver(phrase) or []) if t in ENTITY_FIELDS and e]
            except Exception:  # noqa: BLE001 — a broken registry must not break search
                found = []
            if found:
                alts = " OR ".join(f'{t}:"{e}"' for t, e in dict.fromkeys(found))
                out.append(f"(({phrase}) OR {alts})")
                i = j
                break
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out)


def _only_negative(q: str) -> bool:
    tokens = [t for t in _TOKEN.findall(q) if t not in "()"]
    return bool(tokens) and all(t.startswith("-") and len(t) > 1 for t in tokens)


def _is_candidate(token: str) -> bool:
    return bool(_PLAIN_WORD.match(token)) and token not in OPERATORS


def make_parser(schema: Any, text_fields: Iterable[str], mode: str) -> MultifieldParser:
    fields = ["title", "heading", *text_fields]
    group = OrGroup if mode == "or" else AndGroup
    parser = MultifieldParser(fields, schema, fieldboosts=FIELD_BOOSTS, group=group)
    parser.remove_plugin_class(SingleQuotePlugin)  # apostrophes are not quotes here
    parser.add_plugin(FuzzyTermPlugin())
    # "-" negates only at the start of a word: e-government and open-data stay whole.
    parser.add_plugin(PlusMinusPlugin(plusexpr=r"(?<![^\s(])\+(?=\w)", minusexpr=r"(?<![^\s(])-(?=\w)"))
    parser.add_plugin(GtLtPlugin())
    return parser


def parse(q: str, schema: Any, text_fields: Iterable[str], mode: str, resolver: Resolver | None,
          columns: Columns, reader: Any, settings: dict[str, Any]) -> wq.Query | None:
    """The Whoosh query for a user string, or None when it matches everything
    (empty query). Raises InvalidQueryError for queries that cannot mean anything."""
    check_length(q, settings)
    text = _clean(q).strip()
    if not text:
        return None
    if _only_negative(text):
        # "-word" alone would match nothing; it means "everything except word".
        text = re.sub(r"(^|\s)-(?=\S)", r"\1NOT ", text)
    text = expand_entities(text, resolver)
    parser = make_parser(schema, text_fields, mode)
    try:
        parsed = parser.parse(text, normalize=False)
    except Exception:  # noqa: BLE001 — Whoosh trips on some syntax mixes: fall back to words
        try:
            parsed = parser.parse(re.sub(r"[^\w\s]", " ", text), normalize=False)
        except Exception as exc:
            raise InvalidQueryError(f"cannot parse the query: {exc}") from exc
    # Parsed without normalize() so repeated words survive to be counted; normalized after
    # (one-word phrases such as org:"ECLAC" become terms before _fix maps them).
    parsed = count_repeats(parsed).normalize()
    errors = _errors(parsed)
    if errors:
        raise InvalidQueryError(f"cannot parse the query {q!r}: {errors[0]}")
    limit = int(settings.get("max_wildcard_terms", 2000))
    try:
        fixed = parsed.accept(lambda node: _fix(node, columns, reader, limit))
        fixed = fixed.normalize().accept(lambda n: use_union(n) if isinstance(n, wq.Or) else n)
    except InvalidQueryError:
        raise
    except Exception as exc:
        raise InvalidQueryError(f"cannot parse the query: {exc}") from exc
    return fixed


def _fix(node: wq.Query, columns: Columns, reader: Any, limit: int) -> wq.Query:
    if isinstance(node, wq.Term) and node.fieldname in CASE_MAPPED and isinstance(node.text, str):
        term = wq.Term(node.fieldname, columns.actual(node.fieldname, node.text))
        if node.fieldname in ENTITY_FIELDS:
            return wq.ConstantScoreQuery(term, ENTITY_SCORE)
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
    from kb.search.facets import FACET_INDEX_FIELD

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
