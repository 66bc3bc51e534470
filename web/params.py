"""Request-parameter parsing shared by the `ui` and `api` blueprints."""
from __future__ import annotations

from collections.abc import Mapping

from kb.errors import InvalidInputError


def int_param(args: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """A whole number in [lo, hi] from the query string; missing or empty gives `default`."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{name} must be a whole number, not {raw[:40]!r}") from exc
    if not lo <= value <= hi:
        raise InvalidInputError(f"{name} must be between {lo} and {hi}, not {value}")
    return value
