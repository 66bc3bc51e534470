"""Batch search: many queries, top-N passages or documents each (TREC-style evaluation,
bulk lookups). The CLI (`kb search --batch`) and bench/relevance.py call this."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kb.errors import InvalidInputError
from kb.search.types import SearchRequest

LEVELS = ("passage", "document")


def read_queries(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """`qid<TAB>query` lines; blank lines and lines starting with # are skipped."""
    for n, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        qid, sep, query = line.partition("\t")
        if not sep or not qid.strip():
            raise InvalidInputError(f"line {n}: expected 'qid<TAB>query'")
        yield qid.strip(), query.strip()


def run_query(index: Any, query: str, limit: int, by: str = "passage",
              filters: dict[str, list[str]] | None = None, correct: bool = True,
              snippets: bool = False, text: bool = False, mode: str | None = None) -> list[dict[str, Any]]:
    """Top `limit` results of one query. Document level keeps each document's best passage
    and reports the document's source_id when it has one (else its doc_id). Every row names
    its passage fully (ids, title, heading path, page range, score) so a batch user need not
    look hits up again; `snippets` adds the marked snippet (it costs the highlighting), `text`
    the passage text."""
    if by not in LEVELS:
        raise InvalidInputError(f"--by must be one of {', '.join(LEVELS)}")
    if limit < 1:
        raise InvalidInputError("the limit must be 1 or more")
    request = SearchRequest(q=query, filters=filters or {}, facets=False, highlight=snippets, max_per_document=0,
                            correct=correct, mode=mode)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    # Document level needs more passages than documents: a hybrid ranking is cut at its depth.
    _mode, _why, hits = index.ranked(request, limit * (3 if by == "document" else 1))
    for hit in hits:
        if by == "document":
            if hit.doc_id in seen:
                continue
            seen.add(hit.doc_id)
            rid = hit.source_id or hit.doc_id
        else:
            rid = hit.passage_id
        row = {"rank": len(rows) + 1, "id": rid, "score": hit.score, "passage_id": hit.passage_id,
               "doc_id": hit.doc_id, "source_id": hit.source_id, "title": hit.title,
               "heading_path": list(hit.heading_path or []), "page_start": hit.page_start,
               "page_end": hit.page_end}
        if snippets:
            row["snippet"] = hit.snippet
        if text:
            row["text"] = hit.text
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


def run_batch(index: Any, queries: Iterable[tuple[str, str]], limit: int, by: str = "passage",
              correct: bool = True, snippets: bool = False,
              text: bool = False, mode: str | None = None) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for qid, query in queries:
        yield qid, run_query(index, query, limit, by, correct=correct, snippets=snippets, text=text, mode=mode)


def trec_lines(qid: str, rows: list[dict[str, Any]], tag: str = "kb") -> Iterator[str]:
    for r in rows:
        yield f"{qid} Q0 {r['id']} {r['rank']} {r['score']:.4f} {tag}"
