"""`kb tag` (entity mentions in a file or stdin) and `kb entities` (list, alias, merge, reject)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kb.errors import InvalidInputError, NotFoundError
from kb.model import ENTITY_TYPES
from web.cli.common import open_kb, print_json, print_jsonl, print_table
from web.cli.progress import ProgressBar

PLAIN_SUFFIXES = {"", ".txt", ".text", ".md", ".markdown"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tag", help="print the entity mentions found in a file (or - for stdin)")
    p.add_argument("file", help="a document path, or - to read plain text from stdin")
    p.add_argument("--format", choices=("jsonl", "json"), default="jsonl")
    p.add_argument("--lang", help="language of the text (en, fr, es...); default en")
    p.set_defaults(handler=cmd_tag)

    e = sub.add_parser("entities", help="list entities with mention counts; curate them")
    e.add_argument("--type", choices=ENTITY_TYPES, help="only this entity type")
    e.add_argument("--format", choices=("table", "json"), default="table")
    e.set_defaults(handler=cmd_list)
    acts = e.add_subparsers(dest="action", metavar="ACTION")
    a = acts.add_parser("alias", help='add a surface form: kb entities alias ID "surface"')
    a.add_argument("id", help="entity id, optionally TYPE:ID (country:KOR, org:undesa)")
    a.add_argument("surface")
    a.set_defaults(handler=cmd_curate)
    m = acts.add_parser("merge", help="merge entity A into B: mentions of A become B")
    m.add_argument("id", metavar="A")
    m.add_argument("into", metavar="B")
    m.set_defaults(handler=cmd_curate)
    r = acts.add_parser("reject", help='never tag this entity id or this exact surface text')
    r.add_argument("target", help='an entity id (TYPE:ID) or a quoted surface text')
    r.set_defaults(handler=cmd_curate)
    t = acts.add_parser("retag", help="re-tag every document with the curation (after an interrupted job)")
    t.set_defaults(handler=cmd_curate)


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"no such file: {path}")
    if p.suffix.lower() in PLAIN_SUFFIXES:
        return p.read_text(encoding="utf-8", errors="replace")
    from indexer.extract import extract  # formats other than plain text go through extraction

    return "\n\n".join(b.text for b in extract(p).blocks if b.text)


def cmd_tag(args: argparse.Namespace) -> int:
    from indexer.tag import Tagger

    text = _read_text(args.file)
    rows = [m.to_dict() for m in Tagger().tag(text, args.lang)]
    keys = ("type", "id", "name", "text", "start", "end", "passage")
    rows = [{k: r[k] for k in keys} for r in rows]
    if args.format == "json":
        print_json(rows)
    else:
        print_jsonl(rows)
    return 0


def _split_id(value: str) -> tuple[str | None, str]:
    """'country:KOR' -> ('country', 'KOR'); 'undesa' -> (None, 'undesa'): the write path
    finds the type of a bare id (indexer.library.entity_type)."""
    if ":" in value and value.split(":", 1)[0] in ENTITY_TYPES:
        t, i = value.split(":", 1)
        return t, i
    return None, value


def cmd_curate(args: argparse.Namespace) -> int:
    try:
        return _curate(args)
    except NotFoundError as exc:  # an id the user typed: bad input on the command line (exit 2)
        raise InvalidInputError(str(exc)) from exc


def _curate(args: argparse.Namespace) -> int:
    from indexer.library import curate, entity_type, retag

    with open_kb(args) as kb:
        progress = ProgressBar("re-tag")
        if args.action == "retag":
            done = retag(kb, progress=progress)
            print(f"retag: re-tagged {done['documents']} documents, {done['passages']} passages")
            return 0
        if args.action == "alias":
            t, i = _split_id(args.id)
            result = curate(kb, "alias", t, i, args.surface, progress=progress, background=False)
        elif args.action == "merge":
            ta, a = _split_id(args.id)
            tb, b = _split_id(args.into)
            ta = ta or tb or entity_type(kb, a)
            if tb is not None and tb != ta:
                raise InvalidInputError(f"cannot merge {args.id!r} into {args.into!r}: give two ids of one type (TYPE:ID)")
            result = curate(kb, "merge", ta, a, b, progress=progress, background=False)
        else:
            t, i = _split_id(args.target)
            t = t or entity_type(kb, i)
            if t is None:  # not an entity: a surface text never to tag again
                result = curate(kb, "reject", None, None, args.target, progress=progress, background=False)
            else:
                result = curate(kb, "reject", t, i, i, progress=progress, background=False)
    what = f"{result.action} {result.type}:{result.id}" if result.id else f"reject surface {result.value!r}"
    if result.action == "alias":
        what = f"alias {result.value!r} -> {result.type}:{result.id}"
    elif result.action == "merge":
        what = f"merge {result.type}:{result.id} into {result.type}:{result.value}"
    print(f"{what}; {result.message}")
    return 0


def entity_rows(catalog, type_: str | None = None) -> list[dict[str, Any]]:
    """Entities with mention and document counts, names from the registry, org parents and
    people's affiliations (ids and names)."""
    from kb.entities import load_registry

    reg = load_registry(catalog.curation())
    people = {p["id"]: p for p in catalog.people()}
    rows = []
    for r in catalog.entity_counts(type_):
        typ, ent_id = r["type"], r["entity_id"]
        row: dict[str, Any] = {"type": typ, "id": ent_id, "name": r["name"],
                               "mentions": r["mentions"], "documents": r["documents"]}
        rec = reg.get(typ, ent_id) if typ != "person" else None
        if rec:
            row["name"] = rec["name"]
        if typ == "org":
            row["parent"] = rec.get("parent") if rec else None
        if typ == "person":
            person = people.get(ent_id, {})
            row["affiliations"] = [{"id": a, "name": (reg.get("org", a) or {}).get("name", a)}
                                   for a in person.get("affiliations", [])]
        rows.append(row)
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    kb = open_kb(args, readonly=True)
    try:
        rows = entity_rows(kb.catalog, args.type)
    finally:
        kb.close()
    if args.format == "json":
        print_json(rows)
        return 0
    table = [{**r, "affiliations": [a["id"] for a in r.get("affiliations", [])]} for r in rows]
    cols = ["type", "id", "name", "mentions", "documents"]
    if args.type in (None, "org"):
        cols.append("parent")
    if args.type in (None, "person"):
        cols.append("affiliations")
    print_table(table, cols)
    return 0
