"""`kb stats`, `kb failures`, `kb reindex`, `kb check`, `kb serve`."""
from __future__ import annotations

import argparse
import json
import os

from kb.errors import BackendUnavailableError
from web.cli.common import open_kb, print_json, print_table
from web.cli.progress import ProgressBar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="figures about the catalog and the index")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(handler=run_stats)

    p = sub.add_parser("failures", help="files that could not be ingested, with the reason")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(handler=run_failures)

    p = sub.add_parser("reindex", help="rebuild the search index from the catalog (no re-extraction)")
    p.set_defaults(handler=run_reindex)

    p = sub.add_parser("check", help="verify that the index and the catalog agree (exit 1 if not)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(handler=run_check)

    p = sub.add_parser("serve", help="serve the web UI and API with a production WSGI server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--threads", type=int, default=8, help="threads per worker")
    p.add_argument("--access-log", action="store_true", help="log every request to standard output")
    p.set_defaults(handler=run_serve)


def run_stats(args: argparse.Namespace) -> int:
    with open_kb(args) as kb:
        stats = kb.stats()
        try:
            stats["index"] = kb.index.stats()
        except BackendUnavailableError as exc:
            # the catalog's figures still hold when the search cluster is down
            stats["index"] = {"status": "unavailable", "error": str(exc)}
        stats["home"] = str(kb.home)
        stats["last_runs"] = kb.catalog.last_runs(3)
        last = kb.catalog.get_meta("last_ingest")
        stats["last_ingest"] = json.loads(last) if last else None
    if args.format == "json":
        print_json(stats)
        return 0
    print(f"home:       {stats['home']}")
    for key in ("documents", "passages", "pages", "paths", "mentions", "failures", "unindexed"):
        print(f"{key + ':':<12}{stats[key]}")
    print("formats:    " + ", ".join(f"{k} {v}" for k, v in stats["formats"].items()))
    print("entities:   " + ", ".join(f"{k} {v}" for k, v in stats["entities"].items()))
    print("index:      " + ", ".join(f"{k} {v}" for k, v in stats["index"].items()))
    if stats["last_ingest"]:  # where the work of the last ingest ran: local pool or cluster
        li = stats["last_ingest"]
        print(f"last ingest: run {li['run_id']} on {li['where']}, {li['done']} tasks"
              + (f" ({li['ranges']} page ranges)" if li.get("ranges") else ""))
    return 0


def run_failures(args: argparse.Namespace) -> int:
    with open_kb(args) as kb:
        rows = kb.catalog.failures()
    if args.format == "json":
        print_json(rows)
    elif rows:
        print_table(rows, ["path", "code", "reason", "at"], {"path": 50, "reason": 70})
    else:
        print("no failures")
    return 0


def run_reindex(args: argparse.Namespace) -> int:
    from indexer.library import reindex

    with open_kb(args) as kb:
        result = reindex(kb, progress=ProgressBar("reindex"))
    print(f"reindex: {result['passages']} passages of {result['documents']} documents indexed")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from kb.maintenance import check

    with open_kb(args) as kb:
        report = check(kb)
    if args.format == "json":
        print_json(report)
    else:
        print(f"check: {report['documents']} documents, {report['passages']} passages in the catalog, "
              f"{report['indexed_passages']} in the index, {report['pending']} pending")
        for key in ("missing", "orphans", "mismatched"):
            if report[key]:
                print(f"  {key}: {len(report[key])} documents, e.g. {', '.join(report[key][:5])}")
        print("check: ok" if report["ok"] else "check: the index and the catalog differ; run `kb reindex`")
    return 0 if report["ok"] else 1


def run_serve(args: argparse.Namespace) -> int:
    """gunicorn with the app object built here (create_app imported, not named in a
    string): the command line and the HTTP app are the one application shell (web/)."""
    from gunicorn.app.base import BaseApplication

    from web import create_app

    home = os.path.abspath(args.home or os.environ.get("KB_HOME", "instance"))
    os.environ["KB_HOME"] = home
    url = f"http://{args.host}:{args.port}/"
    print(f"kb: serving {home} on {url} (gunicorn, {args.workers} workers x {args.threads} threads)", flush=True)
    options = {"workers": args.workers, "worker_class": "gthread", "threads": args.threads,
               "bind": f"{args.host}:{args.port}",
               # Chosen with `python -m bench api --configs` on 2 cores: 2 workers x 8 threads
               # served the most searches (3 x 4 and 4 x 2 fewer, and far fewer at 32 clients);
               # the access log cost a fifth of the requests/s, so it is opt-in.
               **({"accesslog": "-"} if args.access_log else {}),
               "graceful_timeout": 10,
               # gthread's default (1000 connections per worker) lets the first worker to wake take
               # every keep-alive connection of a burst: in bench/load.py one worker used 9 s of CPU
               # and the other 0 s. A cap of 2 x threads leaves the rest in the backlog for the others.
               "worker_connections": 2 * args.threads}

    class _Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # each worker builds its own app after the fork (no preload)
            return create_app()

    _Server().run()
    return 0
