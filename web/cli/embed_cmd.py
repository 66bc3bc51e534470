"""`kb embed [--background]`: give every passage a vector for hybrid search."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from web.cli.common import open_kb, print_json
from web.cli.progress import ProgressBar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="embed the passages that have no vector yet (hybrid search)")
    p.add_argument("--background", action="store_true",
                   help="start the embedding as a detached process (log: KB_HOME/embed.log) and return")
    p.add_argument("--format", choices=["text", "json"], default="text", help="summary format")
    p.set_defaults(handler=run_embed)


def run_embed(args: argparse.Namespace) -> int:
    from indexer.embedstep import embed_all

    with open_kb(args) as kb:
        if args.background:
            return _start_background(args, kb.home)
        summary = embed_all(kb, ProgressBar("embed"))
    if args.format == "json":
        print_json(summary.to_dict())
    else:
        print(summary.line())
    return 0


def _start_background(args: argparse.Namespace, home: os.PathLike) -> int:
    """`make run` serves at once (bm25) while this embeds; hybrid starts with the last vector."""
    log_path = os.path.join(home, "embed.log")
    cmd = [sys.executable, "-m", "kb"] + (["--home", args.home] if args.home else []) + ["embed"]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    print(f"embed: embedding in the background (pid {proc.pid}, log {log_path}); "
          "search runs in bm25 mode until every passage has a vector")
    return 0
