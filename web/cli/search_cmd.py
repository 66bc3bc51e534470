"""`kb search QUERY [filters] ...` and `kb search --batch FILE.tsv ...`."""
from __future__ import annotations

import argparse
import html
import re
import sys
from typing import Any

from kb.errors import InvalidInputError
from kb.search.batch import LEVELS, read_queries, run_batch, trec_lines
from kb.search.types import FACET_FIELDS, SearchRequest

SINGLE_FORMATS = ("table", "json", "jsonl", "csv")
BATCH_FORMATS = ("jsonl", "trec")
COLUMNS = ("rank", "score", "passage_id", "title", "page_start", "heading_path", "snippet")


def register(sub: Any) -> None:
    p = sub.add_parser("search", help="search passages (see docs/query-language.md)")
    p.add_argument("query", nargs="?", help="the query; omit with --batch")
    for name in FACET_FIELDS:
        p.add_argument(f"--{name}", action="append", default=[], metavar="VALUE",
                       help=f"filter on {name} (repeat for OR)")
    p.add_argument("--limit", type=int, help="results per page (single) or per query (batch; default 100)")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--sort", default="relevance", choices=("relevance", "date", "title", "added"))
    p.add_argument("--format", choices=sorted(set(SINGLE_FORMATS + BATCH_FORMATS)),
                   help="table|json|jsonl|csv (default table); with --batch: jsonl|trec (default jsonl)")
    p.add_argument("--batch", metavar="FILE.tsv", help="run every `qid<TAB>query` line of FILE ('-': stdin)")
    p.add_argument("--by", default="passage", choices=LEVELS, help="batch: rank passages or documents")
    p.add_argument("--text", action="store_true", help="batch jsonl: each hit also carries its passage text")
    p.add_argument("--mode", choices=("bm25", "hybrid"),
                   help="ranking: hybrid (BM25 fused with passage vectors) or bm25 (default: KB_SEARCH_MODE)")
    p.add_argument("--no-correct", dest="correct", action="store_false",
                   help="search words no passage holds as typed (default: replace them by the nearest known word)")
    p.set_defaults(handler=run_search)


def run_search(args: argparse.Namespace) -> int:
    from web.cli.common import open_kb

    if args.batch:
        return _run_batch(args, open_kb)
    if args.query is None:
        raise InvalidInputError("give a QUERY, or --batch FILE.tsv")
    fmt = args.format or "table"
    if fmt not in SINGLE_FORMATS:
        raise InvalidInputError(f"--format {fmt} is for --batch; use one of {', '.join(SINGLE_FORMATS)}")
    filters = {n: list(getattr(args, n)) for n in FACET_FIELDS if getattr(args, n)}
    with open_kb(args, readonly=True) as kb:
        per_page = args.limit or int(kb.settings["page_size"])
        request = SearchRequest(q=args.query, filters=filters, page=args.page, per_page=per_page, sort=args.sort,
                                max_per_document=int(kb.settings["max_per_document"]), correct=args.correct,
                                mode=args.mode)
        result = kb.index.search(request)
    data = result.to_dict()
    for i, row in enumerate(data["results"], (result.page - 1) * result.per_page + 1):
        row["rank"] = i
    from web.cli.common import print_csv, print_json, print_jsonl, print_table

    if fmt == "json":
        print_json(data)
    elif fmt == "jsonl":
        print_jsonl(data["results"])
    elif fmt == "csv":
        print_csv(data["results"], ("rank", "score", "passage_id", "doc_id", "source_id", "title", "path",
                                    "format", "page_start", "page_end", "heading_path", "year", "text"))
    else:
        rows = [dict(r, snippet=_plain(r["snippet"])) for r in data["results"]]
        print_table(rows, COLUMNS, widths={"snippet": 60, "title": 30})
        tail = f"{result.total} results"
        if result.corrected_query:
            tail += f" for {result.corrected_query!r} (corrected; --no-correct searches as typed)"
        if result.suggestion and not result.corrected_query:
            tail += f" — did you mean: {result.suggestion}"
        if result.truncated:
            tail += " (cut short by the time budget)"
        tail += f"; ranked by {result.mode}" + (f" ({result.mode_reason})" if result.mode_reason else "")
        print(tail, file=sys.stderr)
    return 0


def _plain(snippet: str) -> str:
    return html.unescape(re.sub(r"</?mark>", "", snippet))


def _run_batch(args: argparse.Namespace, open_kb: Any) -> int:
    fmt = args.format or "jsonl"
    if fmt not in BATCH_FORMATS:
        raise InvalidInputError(f"with --batch, --format must be one of {', '.join(BATCH_FORMATS)}")
    limit = args.limit or 100
    if args.batch == "-":
        queries = list(read_queries(sys.stdin))
    else:
        try:
            with open(args.batch, encoding="utf-8") as fh:
                queries = list(read_queries(fh))
        except OSError as exc:
            raise InvalidInputError(f"cannot read {args.batch}: {exc.strerror}") from exc
    from web.cli.common import print_jsonl

    with open_kb(args, readonly=True) as kb:
        # TREC lines hold six columns only: no snippets to build for them.
        for qid, rows in run_batch(kb.index, queries, limit, args.by, correct=args.correct,
                                   snippets=fmt == "jsonl", text=args.text and fmt == "jsonl", mode=args.mode):
            if fmt == "trec":
                for line in trec_lines(qid, rows):
                    sys.stdout.write(line + "\n")
            else:
                print_jsonl([{"qid": qid, "results": rows}])
    return 0
