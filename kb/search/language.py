"""The query language: from a user's string to a backend-neutral query tree
(kb.search.querytree; the language is described in docs/query-language.md).

Grammar, as Whoosh's default parser read it before the search boundary (so ranking did not
move): whitespace separates words; `( )` group; `"…"` is a phrase (`"…"~N` sloppy);
`AND`, `OR`, `NOT`, `ANDNOT`, `ANDMAYBE` in capitals are operators (NOT binds tightest, then
AND, then OR, then ANDNOT/ANDMAYBE; all bind tighter than the default operator between
adjacent clauses); `+word` is required and `-word` excluded (only at the start of a word, so
e-government stays whole); `field:` before a word, phrase, group or range; `[a TO b]` and
`{a TO b}` ranges, `field:>=x` comparisons; `word*` prefix, `w*rd` wildcard, `word~`/`word~2`
fuzzy, `word^2` boost.

Around the grammar:

* runs of plain words that name a country or organisation become ``(words OR tag)`` through
  the entity resolver, so "Korea" finds a KOR-tagged passage that only says "Seoul";
* `?` is not a wildcard (questions end with it), a lone `*` is dropped, an unclosed quote
  runs to the end, and a query of exclusions alone means "everything except";
* the default operator: AND for short keyword queries (the service retries as OR when that
  finds too little), OR for long, question-like queries.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from kb.errors import InvalidQueryError
from kb.search import querytree as qt

Resolver = Callable[[str], list[tuple[str, str]]]

# Queries with at least this many plain words are treated as natural language (OR).
NATURAL_LANGUAGE_WORDS = 5
# Longest run of words looked up as one entity name: official names run long
# ("Programme des Nations Unies pour le développement" is seven words).
MAX_NGRAM = 12
OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}
# Common English words: never entity names on their own ("who" is not WHO) and never
# required words of a short query. The union of Whoosh's short list and its English list,
# which the index's English analyser drops too (checked by the Whoosh backend's tests).
ENGLISH_STOPS = frozenset((
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "did", "do", "does", "doing", "don", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
    "may", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "s", "same",
    "she", "should", "so", "some", "such", "t", "tbd", "than", "that", "the", "their", "theirs",
    "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to",
    "too", "under", "until", "up", "us", "very", "was", "we", "were", "what", "when", "where",
    "which", "while", "who", "whom", "why", "will", "with", "yet", "you", "your", "yours",
    "yourself", "yourselves",
))

TOKEN = re.compile(r'"[^"]*"?|\(|\)|[^\s()"]+')
_PLAIN_WORD = re.compile(r"^[^\W_][\w'’.&-]*$", re.UNICODE)
# What makes a query "written in the query language": parentheses alone do not (people
# write "TSS (Time Sharing System)"); quotes, operators, -/+ prefixes, field:value and
# wildcard/fuzzy/boost marks do.
_EXPLICIT = re.compile(r'"|(^|[\s(])[-+]|\b(AND|OR|NOT|ANDNOT|ANDMAYBE)\b|\b(?:'
                       + "|".join(sorted(qt.QUERY_FIELDS, key=len, reverse=True)) + r"):|[*~^]")
_BOOLEAN = re.compile(r"\b(AND|OR|NOT|ANDNOT|ANDMAYBE)\b")


def check_length(q: str, settings: dict[str, Any]) -> None:
    limit = int(settings.get("max_query_length", 1000))
    if len(q) > limit:
        raise InvalidQueryError(f"the query is {len(q)} characters long; the limit is {limit}")


def is_plain(q: str) -> bool:
    """True when the query uses no operator, quote, group, field or wildcard: only then may
    the default operator be relaxed from AND to OR."""
    return not _EXPLICIT.search(q)


def is_candidate(token: str) -> bool:
    """A plain word: may be part of an entity name or be corrected by spelling."""
    return bool(_PLAIN_WORD.match(token)) and token not in OPERATORS


def plain_words(q: str) -> list[str]:
    return [t for t in TOKEN.findall(q) if is_candidate(t)]


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


def parse(q: str, mode: str, resolver: Resolver | None, settings: dict[str, Any]) -> qt.ParsedQuery:
    """The query tree of a user string; its root is None when the query matches every
    passage (empty query). Raises InvalidQueryError for a query over the length limit."""
    check_length(q, settings)
    text = _clean(q).strip()
    if not text:
        return qt.ParsedQuery(None, mode, q)
    if _only_negative(text):
        # "-word" alone would match nothing; it means "everything except word".
        text = re.sub(r"(^|\s)-(?=\S)", r"\1NOT ", text)
    tokens = _expand_entities(_lex(text), resolver, mode)
    items, _ = _group(tokens, 0, mode)
    # Operators with nothing to apply to ("NOT", "AND OR") match nothing, not everything.
    root = _combine(items, mode)
    return qt.ParsedQuery(root if root is not None else qt.Or(()), mode, q)


def _clean(q: str) -> str:
    # `?` ends questions far more often than it is meant as a one-character wildcard.
    q = q.replace("?", " ")
    # A lone * (or one glued to punctuation) is not a prefix search: it would expand to every term.
    q = re.sub(r"(?<!\w)\*+(?!\w)", " ", q)
    # Balance quotes: an unclosed phrase runs to the end of the query.
    if q.count('"') % 2:
        q += '"'
    return q


def _only_negative(q: str) -> bool:
    tokens = [t for t in TOKEN.findall(q) if t not in "()"]
    return bool(tokens) and all(t.startswith("-") and len(t) > 1 for t in tokens)


# -- lexing -------------------------------------------------------------------------
@dataclass
class _Tok:
    kind: str  # word | phrase | range | cmp | field | op | plus | minus | open | close | node
    text: str = ""
    node: qt.Node | None = None
    slop: int = 1
    plain: bool = False  # a bare word that may be part of an entity name


_RANGE = re.compile(r"(?P<open>[\[{])(?P<start>('[^']*?'\s+)|([^\]}]+?(?=[Tt][Oo])))?[Tt][Oo]"
                    r"(?P<end>(\s+'[^']*?')|([^\]}]+?))?(?P<close>[\]}])")
_SLOP = re.compile(r"~(?P<slop>[1-9][0-9]*)")
_FIELD = re.compile(r"(?P<name>\w+):")
_CMP = re.compile(r"(<=|>=|=<|=>|<|>)")
_BOOST = re.compile(r"\^(?P<boost>[0-9]*(\.[0-9]+)?)$")
_FUZZY = re.compile(r"(?<=\S)~(?P<dist>[0-9])?(/(?P<prefix>[1-9][0-9]*))?$")
_MINUS_PLUS = re.compile(r"[-+](?=\w)")


def _lex(s: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append(_Tok("open" if ch == "(" else "close"))
            i += 1
        elif ch == '"':
            end = s.find('"', i + 1)
            end = n if end < 0 else end
            tok = _Tok("phrase", s[i + 1:end])
            i = end + 1
            m = _SLOP.match(s, i)
            if m:
                tok.slop = int(m.group("slop"))
                i = m.end()
            out.append(tok)
        elif ch in "[{" and (m := _RANGE.match(s, i)):
            out.append(_Tok("range", m.group(0)))
            i = m.end()
        elif (f := _FIELD.match(s, i)) and f.group("name") in qt.QUERY_FIELDS and (m := _RANGE.match(s, f.end())):
            out.extend((_Tok("field", f.group("name")), _Tok("range", m.group(0))))
            i = m.end()
        else:
            j = i
            while j < n and not s[j].isspace() and s[j] not in '()"':
                j += 1
            _lex_run(s[i:j], i == 0 or s[i - 1] in " \t\r\n(", j == n or s[j] in " \t\r\n)", out)
            i = j
    return out


def _lex_run(run: str, starts: bool, ends: bool, out: list[_Tok]) -> None:
    """One run of non-space, non-paren, non-quote characters."""
    if run in OPERATORS and ends and (starts if run == "NOT" else bool(out)):
        out.append(_Tok("op", run))
        return
    if starts and _MINUS_PLUS.match(run):
        out.append(_Tok("minus" if run[0] == "-" else "plus"))
        run = run[1:]
    m = _FIELD.match(run)
    if m and m.group("name") in qt.QUERY_FIELDS:
        out.append(_Tok("field", m.group("name")))
        run = run[m.end():]
        c = _CMP.match(run)
        if c and len(run) > c.end():
            out.append(_Tok("cmp", c.group(0)))
            run = run[c.end():]
    if run:
        out.append(_Tok("word", run, plain=is_candidate(run)))


def _expand_entities(tokens: list[_Tok], resolver: Resolver | None, mode: str) -> list[_Tok]:
    """Runs of plain words: the longest n-gram the resolver knows becomes one group,
    ``((words) OR field:id …)``."""
    if resolver is None:
        return tokens
    out: list[_Tok] = []
    i = 0
    while i < len(tokens):
        if not _bare(tokens, i):
            out.append(tokens[i])
            i += 1
            continue
        run_end = i
        while run_end < len(tokens) and run_end - i < MAX_NGRAM and _bare(tokens, run_end):
            run_end += 1
        for j in range(run_end, i, -1):
            phrase = " ".join(t.text for t in tokens[i:j])
            if j - i == 1 and (len(phrase) < 2 or (phrase.lower() in ENGLISH_STOPS and not phrase.isupper())):
                continue  # "who" is a question word, "WHO" the organisation
            try:
                found = [(t, e) for t, e in (resolver(phrase) or []) if t in qt.ENTITY_FIELDS and e]
            except Exception:  # noqa: BLE001 — a broken registry must not break search
                found = []
            if found:
                # The words of a name go together even in a question read with OR: the "de"
                # and "la" of "Organisation mondiale de la Santé" are no words to rank by alone.
                words = _mode_group(tuple(_word(t.text) for t in tokens[i:j]), "and" if j - i > 1 else mode)
                alts = (words, *(qt.Entity(t, e) for t, e in dict.fromkeys(found)))
                out.append(_Tok("node", node=_mode_group((qt.Or(alts),), mode)))
                i = j
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def _bare(tokens: list[_Tok], i: int) -> bool:
    """A plain word that no field prefix or +/- marker governs."""
    t = tokens[i]
    return t.kind == "word" and t.plain and not (i and tokens[i - 1].kind in ("field", "cmp", "plus", "minus"))


# -- parsing ------------------------------------------------------------------------
def _group(tokens: list[_Tok], i: int, mode: str, depth: int = 0) -> tuple[list[Any], int]:
    """Items of one parenthesised level (nodes, operators, +/- markers) up to its `)`; a `)`
    that closes nothing is ignored."""
    items: list[Any] = []
    field: str | None = None
    cmp: str | None = None
    while i < len(tokens):
        t = tokens[i]
        i += 1
        if t.kind == "close":
            if depth:
                break
            continue
        if t.kind == "field":
            field = t.text
            continue
        if t.kind == "cmp":
            cmp = t.text
            continue
        if t.kind in ("op", "plus", "minus"):
            items.append(t.text if t.kind == "op" else t.kind)
            field = cmp = None
            continue
        if t.kind == "open":
            sub, i = _group(tokens, i, mode, depth + 1)
            node = _combine(sub, mode)
            if node is None:
                field = cmp = None
                continue
            node = _with_field(node, field) if field else node
        elif t.kind == "node":
            node = t.node
        elif t.kind == "phrase":
            node = qt.Phrase(t.text, field, t.slop) if t.text.strip() else None
        elif t.kind == "range":
            node = _range(t.text, field)
        elif cmp is not None and field is not None:
            node = _compare(field, cmp, t.text)
        else:
            node = _word(t.text, field)
        field = cmp = None
        if node is not None:
            items.append(node)
    return items, i


def _combine(items: list[Any], mode: str) -> qt.Node | None:
    """One level's items as a node: +/- sorted out first, then the operators, then the
    default operator between what is left."""
    if not items:
        return None
    if "plus" in items or "minus" in items:
        required: list[Any] = []
        optional: list[Any] = []
        banned: list[Any] = []
        target = optional
        for it in items:
            if it == "plus":
                target = required
            elif it == "minus":
                target = banned
            else:
                target.append(it)
                target = optional
        node = _apply_ops(optional, mode)
        if required:
            req = _apply_ops(required, "and")
            node = req if node is None else qt.AndMaybe(req, node)
        if banned:
            ban = _apply_ops(banned, "or")
            if ban is not None:
                node = qt.AndNot(node, ban) if node is not None else qt.Not(ban)
        return node
    return _apply_ops(items, mode)


def _apply_ops(items: list[Any], mode: str) -> qt.Node | None:
    items = list(items)
    # NOT: prefix, binds to the next item.
    i = 0
    while i < len(items):
        if items[i] == "NOT":
            del items[i]
            if i < len(items) and not isinstance(items[i], str):
                items[i] = qt.Not(items[i])
        else:
            i += 1
    for op in ("AND", "OR", "ANDNOT", "ANDMAYBE"):
        i = 0
        while i < len(items):
            if items[i] != op:
                i += 1
                continue
            if 0 < i < len(items) - 1 and not isinstance(items[i - 1], str) and not isinstance(items[i + 1], str):
                items[i - 1:i + 2] = [_binary(op, items[i - 1], items[i + 1])]
            else:
                del items[i]
    nodes = tuple(x for x in items if not isinstance(x, str))
    return _mode_group(nodes, mode) if nodes else None


def _binary(op: str, a: qt.Node, b: qt.Node) -> qt.Node:
    if op == "AND":
        return qt.And((*a.children, b)) if isinstance(a, qt.And) and a.boost == 1.0 else qt.And((a, b))
    if op == "OR":
        return qt.Or((*a.children, b)) if isinstance(a, qt.Or) and a.boost == 1.0 else qt.Or((a, b))
    if op == "ANDNOT":
        return qt.AndNot(a, b)
    return qt.AndMaybe(a, b)


def _mode_group(nodes: tuple[qt.Node, ...], mode: str) -> qt.Node:
    return qt.Or(nodes) if mode == "or" else qt.And(nodes)


def _word(raw: str, field: str | None = None) -> qt.Node:
    boost = 1.0
    m = _BOOST.search(raw)
    if m and m.start() > 0:
        boost = float(m.group("boost") or 1.0)
        raw = raw[:m.start()]
    m = _FUZZY.search(raw)
    if m and m.start() > 0:
        return qt.Fuzzy(raw[:m.start()], field, int(m.group("dist") or 1), int(m.group("prefix") or 0), boost)
    if raw.endswith("*") and "*" not in raw[:-1] and len(raw) > 1:
        return qt.Prefix(raw[:-1], field, boost)
    if "*" in raw:
        return qt.Wildcard(raw, field, boost)
    return qt.Word(raw, field, boost)


def _range(text: str, field: str | None) -> qt.Node:
    m = _RANGE.match(text)
    assert m is not None  # the lexer matched it
    start = (m.group("start") or "").strip().strip("'") or None
    end = (m.group("end") or "").strip().strip("'") or None
    return qt.Range(field, start, end, m.group("open") == "{", m.group("close") == "}")


def _compare(field: str, rel: str, value: str) -> qt.Node:
    if rel == "<":
        return qt.Range(field, None, value, False, True)
    if rel == ">":
        return qt.Range(field, value, None, True, False)
    if rel in ("<=", "=<"):
        return qt.Range(field, None, value)
    return qt.Range(field, value, None)


def _with_field(node: qt.Node, field: str) -> qt.Node:
    """`title:(a b)`: the field applies to every unfielded leaf of the group."""
    if isinstance(node, (qt.Word, qt.Phrase, qt.Prefix, qt.Wildcard, qt.Fuzzy, qt.Range)):
        return replace(node, field=node.field or field)
    if isinstance(node, (qt.And, qt.Or)):
        return replace(node, children=tuple(_with_field(c, field) for c in node.children))
    if isinstance(node, qt.Not):
        return qt.Not(_with_field(node.child, field))
    if isinstance(node, qt.AndNot):
        return qt.AndNot(_with_field(node.positive, field), _with_field(node.negative, field))
    if isinstance(node, qt.AndMaybe):
        return qt.AndMaybe(_with_field(node.required, field), _with_field(node.optional, field))
    return node
