"""Helpers shared by the sub-command modules."""
from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from kb.facade import KB


def open_kb(args: Any, readonly: bool = False) -> KB:
    overrides = {"home": args.home} if getattr(args, "home", None) else {}
    return KB(overrides, readonly=readonly)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def print_jsonl(rows: Iterable[Any]) -> None:
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], widths: dict[str, int] | None = None) -> None:
    widths = dict(widths or {})
    for c in columns:
        widths.setdefault(c, max([len(c)] + [len(_cell(r.get(c))) for r in rows]) if rows else len(c))
        widths[c] = min(widths[c], 60)
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for r in rows:
        print("  ".join(_cell(r.get(c))[: widths[c]].ljust(widths[c]) for c in columns).rstrip())


def print_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    w = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({c: _cell(r.get(c)) for c in columns})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value).replace("\n", " ")
