"""The `kb` command line: parses, calls library functions, prints.

Each sub-command lives in a module of this package with ``register(subparsers)``; the
module's handler takes the parsed arguments and returns an exit code. ``KBError``s become
one-line messages on stderr (exit 2 for bad input, 1 otherwise).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kb.errors import InvalidInputError, KBError
from web.cli import admin_cmd, embed_cmd, entities_cmd, export_cmd, ingest_cmd, search_cmd

# Modules providing sub-commands, in help order.
COMMAND_MODULES = (ingest_cmd, search_cmd, entities_cmd, admin_cmd, export_cmd, embed_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kb", description="Document knowledge base for e-government forum material.")
    parser.add_argument("--home", help="runtime folder (catalog, index); default $KB_HOME or ./instance")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMAND_MODULES:
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
