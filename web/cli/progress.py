"""A progress line on stderr for long operations, and the closing summary."""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class ProgressBar:
    """Redraws one line on a terminal; on a pipe or file prints a line every few seconds."""

    def __init__(self, label: str, stream: TextIO | None = None, interval: float = 2.0) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval
        self.last = 0.0
        self.t0 = time.monotonic()

    def __call__(self, event: dict[str, Any]) -> None:
        done, total = event.get("done", 0), event.get("total", 0) or 0
        now = time.monotonic()
        final = event.get("event") == "done"
        if not final and not self.tty and now - self.last < self.interval:
            return
        self.last = now
        pct = f"{100 * done / total:3.0f}%" if total else "  …"
        width = 24
        filled = int(width * done / total) if total else 0
        bar = "█" * filled + "·" * (width - filled)
        rate = done / max(now - self.t0, 1e-6)
        counts = " ".join(f"{k} {event[k]}" for k in ("added", "updated", "unchanged", "failed") if k in event)
        name = str(event.get("path", ""))[-40:]
        if event.get("tasks_total"):  # page ranges and cluster tasks: more tasks than files
            self.tasks = f" tasks {event['tasks_done']}/{event['tasks_total']}"
        line = f"{self.label} {bar} {pct} {done}/{total} {rate:.1f}/s {counts}{getattr(self, 'tasks', '')} {name}"
        if self.tty:
            self.stream.write("\r\033[K" + line[:150])
            if final:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
