"""Small helpers shared by the benchmark modules."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
OUT = REPO / "bench-out"


def shared_or_none(*parts: str) -> Path | None:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        print(f"  skipped: {path} not found (../shared is absent)")
        return None
    return path


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    s = sorted(samples_ms)
    p50 = statistics.median(s)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return p50, p95


def row(label: str, *cells: object) -> None:
    print(f"  {label:<44}" + "".join(f"{c!s:>14}" for c in cells))
