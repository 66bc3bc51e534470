"""`kb ingest`, `kb extract`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kb.errors import InvalidInputError
from web.cli.common import open_kb, print_json
from web.cli.progress import ProgressBar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="add or update documents from files and folders")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--workers", type=int, help="extraction processes (default: one per core)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run extraction and tagging on this Dask cluster (default: KB_DASK_SCHEDULER, else local)")
    p.add_argument("--force", action="store_true", help="re-process files even when unchanged")
    p.add_argument("--strict", action="store_true", help="exit 1 if any file failed")
    p.add_argument("--prune", action="store_true", help="forget documents whose files are gone")
    p.add_argument("--password", help="password for encrypted files in this batch")
    p.add_argument("--passwords", metavar="FILE", help="JSON mapping of file name or path to password")
    p.add_argument("--format", choices=["text", "json"], default="text", help="summary format")
    p.add_argument("--no-embed", dest="embed", action="store_const", const=False, default=None,
                   help="skip embedding the new passages (hybrid search; later: kb embed)")
    p.add_argument("--map", metavar="TARGET=COLUMN,...", default="",
                   help="columns of CSV/JSONL collections: e.g. text=abstract,id=doi,year=pubyear")
    p.set_defaults(handler=run_ingest)

    e = sub.add_parser("extract", help="show what the extractor sees in one file (nothing is stored)")
    e.add_argument("file")
    e.add_argument("--format", choices=["text", "json"], default="text")
    e.add_argument("--password")
    e.set_defaults(handler=run_extract)


def _passwords(args: argparse.Namespace, paths: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    if args.passwords:
        try:
            mapping.update(json.loads(Path(args.passwords).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read passwords file {args.passwords}: {exc}") from exc
    if args.password:
        import os

        from indexer.walk import walk

        for f in walk(paths):
            mapping.setdefault(os.path.abspath(f), args.password)
    return mapping


def run_ingest(args: argparse.Namespace) -> int:
    from indexer.library import ingest
    from indexer.sidecar import parse_map

    mapping = parse_map(args.map, "--map")
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise InvalidInputError(f"no such file or folder: {', '.join(missing)}")
    with open_kb(args) as kb:
        summary = ingest(args.paths, kb, workers=args.workers, force=args.force, prune=args.prune,
                         passwords=_passwords(args, args.paths), progress=ProgressBar("ingest"),
                         mapping=mapping, scheduler=args.scheduler, embed=args.embed)
    if args.format == "json":
        print_json(summary)
    else:
        print(f"ingest: {summary['added']} added, {summary['updated']} updated, "
              f"{summary['unchanged']} unchanged, {summary['duplicates']} duplicates, "
              f"{summary['failed']} failed, {summary['pruned']} pruned — "
              f"{summary['passages']} passages, {summary['pages']} pages in {summary['seconds']:.1f} s")
        tasks = summary["tasks"]
        split = f", {tasks['ranges']} page ranges of {tasks['split_files']} PDFs" if tasks["split_files"] else ""
        print(f"  ran on {summary['where']}: {tasks['done']} tasks{split}")
        if summary.get("embed"):
            e = summary["embed"]
            print(f"  embedded {e['embedded']} passages in {e['seconds']:.1f} s ({e['per_second']}/s; model {e['model']})")
        for f in summary["failures"]:
            print(f"  failed: {f['path']}: {f['reason']}")
        for w in summary.get("warnings", []):
            print(f"  warning: {w}")
    return 1 if args.strict and summary["failed"] else 0


def run_extract(args: argparse.Namespace) -> int:
    from indexer.extract import extract

    if not Path(args.file).is_file():
        raise InvalidInputError(f"no such file: {args.file}")
    extracted = extract(args.file, password=args.password)
    if args.format == "json":
        print_json(extracted.to_dict())
        return 0
    out = sys.stdout
    if extracted.title:
        out.write(f"# title: {extracted.title}\n")
    page = None
    for b in extracted.blocks:
        if b.page != page and b.page is not None:
            page = b.page
            out.write(f"\n--- page {page} ---\n")
        prefix = {"heading": "#" * max(b.level, 1) + " ", "title": "## ", "list_item": "- ",
                  "note": "[note] ", "table_row": "| "}.get(b.kind, "")
        out.write(f"{prefix}{b.text}\n\n")
    for w in extracted.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0
