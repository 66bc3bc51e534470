"""The `kb` command line: parses, calls library functions, prints.

Each sub-command lives in a module of this package with ``register(subparsers)``; the
module's handler takes the parsed arguments and returns an exit code. ``KBError``s become
one-line messages on stderr (exit 2 for bad input, 1 otherwise).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from kb.errors import InvalidInputError, KBError

# Modules providing sub-commands, in help order.
COMMAND_MODULES = (
    "web.cli.ingest_cmd",
    "web.cli.search_cmd",
    "web.cli.entities_cmd",
    "web.cli.admin_cmd",
    "web.cli.export_cmd",
    "web.cli.embed_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kb", description="Document knowledge base for e-government forum material.")
    parser.add_argument("--home", help="runtime folder (catalog, index); default $KB_HOME or ./instance")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except InvalidInputError as exc:
        print(f"kb: error: {exc}", file=sys.stderr)
        return 2
    except KBError as exc:
        print(f"kb: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kb: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
