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
    "indexer.cli.ingest_cmd",
    "indexer.cli.search_cmd",
    "indexer.cli.entities_cmd",
    "indexer.cli.admin_cmd",
    "indexer.cli.export_cmd",
    "indexer.cli.embed_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kb", description="Document knowledge base for e-government forum material.")
    parser.add_argument("--home", help="runtime folder (catalog, index); default $KB_HOME or ./instance")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command module not written yet
                continue
            raise
        module.register(sub)
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
