"""`kb export QUERY [filters] --format ... [-o FILE]` and `kb token create|list|revoke`."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from kb import auth
from kb.export import FORMATS, Provenance, build_id, catalog_lookup, export
from kb.search.types import Hit, SearchRequest

FILTER_OPTIONS = ("country", "region", "org", "person", "topic", "type", "year", "lang")


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export every passage matching a query (no result cap)")
    p.add_argument("query", nargs="?", default="", help="query ('' or omitted: everything)")
    for name in FILTER_OPTIONS:
        p.add_argument(f"--{name}", action="append", default=[], metavar="VALUE",
                       help=f"filter on {name} (repeat for OR)")
    p.add_argument("--sort", default="relevance", choices=("relevance", "date", "title", "added"))
    p.add_argument("--format", default="csv", choices=FORMATS)
    p.add_argument("--bom", action="store_true", help="CSV: start with a UTF-8 byte order mark (Excel)")
    p.add_argument("--inline-provenance", action="store_true",
                   help="CSV: a first '#' comment row; JSONL: a first meta line (readers must skip them)")
    p.add_argument("-o", "--output", help="file to write (default: standard output); its provenance goes to "
                                          "FILE.provenance.json (without -o: to standard error)")
    p.set_defaults(handler=run_export)

    t = sub.add_parser("token", help="API tokens for writes (upload, delete, curation)")
    tsub = t.add_subparsers(dest="token_command", metavar="ACTION")
    tsub.required = True
    c = tsub.add_parser("create", help="make a token; it is printed once and stored hashed")
    c.add_argument("--name", required=True)
    c.set_defaults(handler=run_token_create)
    ls = tsub.add_parser("list", help="tokens (never their values)")
    ls.set_defaults(handler=run_token_list)
    r = tsub.add_parser("revoke", help="revoke by name or id")
    r.add_argument("name_or_id")
    r.set_defaults(handler=run_token_revoke)


def _filters(args: argparse.Namespace) -> dict[str, list[str]]:
    return {name: list(getattr(args, name)) for name in FILTER_OPTIONS if getattr(args, name)}


def run_export(args: argparse.Namespace) -> int:
    from web.cli.common import open_kb

    filters = _filters(args)
    with open_kb(args, readonly=True) as kb:
        request = SearchRequest(q=args.query, filters=filters, sort=args.sort, facets=False,
                                max_per_document=0, highlight=False)
        prov = Provenance(query=args.query, filters=filters, build_id=build_id(kb.index), sort=args.sort)
        max_rows = int(kb.settings["export_max_rows"])
        counted = _Counted(kb.index.iter_all(request))
        chunks = export(counted, args.format, prov, max_rows=max_rows, bom=args.bom,
                        inline=args.inline_provenance, lookup=catalog_lookup(kb.catalog))
        if args.output:
            with open(args.output, "wb") as fh:
                fh.writelines(chunks)
        else:
            out = sys.stdout.buffer
            for chunk in chunks:
                out.write(chunk)
            out.flush()
    # The provenance stays out of CSV and JSONL (plain files every reader takes as they are):
    # beside the file, or on standard error when the file goes to standard output.
    side = json.dumps(prov.sidecar(args.format, passages=counted.n), ensure_ascii=False)
    if args.output:
        with open(args.output + ".provenance.json", "w", encoding="utf-8") as fh:
            fh.write(side + "\n")
        print(f"exported {counted.n} passages to {args.output} (provenance: {args.output}.provenance.json)",
              file=sys.stderr)
    else:
        print(side, file=sys.stderr)
    return 0


class _Counted:
    """Passes hits through, counting them (the sidecar's passage count)."""

    def __init__(self, hits: Iterable[Hit]) -> None:
        self._hits = hits
        self.n = 0

    def __iter__(self) -> Iterator[Hit]:
        for hit in self._hits:
            self.n += 1
            yield hit


def run_token_create(args: argparse.Namespace) -> int:
    from web.cli.common import open_kb

    with open_kb(args) as kb:
        token_id, token = auth.create_token(kb.catalog, args.name)
    print(token)
    print(f"token {token_id} ({args.name}) created; it is shown only this once", file=sys.stderr)
    return 0


def run_token_list(args: argparse.Namespace) -> int:
    from web.cli.common import open_kb, print_table

    with open_kb(args) as kb:
        rows = auth.list_tokens(kb.catalog)
    print_table(rows, ("id", "name", "created_at", "revoked_at"))
    return 0


def run_token_revoke(args: argparse.Namespace) -> int:
    from web.cli.common import open_kb

    with open_kb(args) as kb:
        n = auth.revoke_token(kb.catalog, args.name_or_id)
    print(f"revoked {n} token(s)")
    return 0
