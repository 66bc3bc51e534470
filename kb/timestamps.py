"""Timestamps the catalog stores: ISO 8601, UTC, to the second."""
from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
