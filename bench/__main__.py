"""`make bench`: runs every benchmark module in turn and prints its figures.

Each module in BENCHES has ``run(args) -> None`` printing its own table; a module whose
inputs are missing (../shared absent, no pdftotext) prints why and returns.
`python -m bench NAME... [--option ...]` runs only those, passing the options on.
"""
from __future__ import annotations

import importlib
import sys
import time

BENCHES = ("ingest", "dask", "content", "tagging", "relevance", "questions", "multilingual", "hybrid", "latency", "paging",
           "web", "api", "load", "opensearch")


def main(argv: list[str]) -> int:
    # Bare words name benchmarks; everything from the first option on goes to the modules.
    split = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    names, options = argv[:split] or list(BENCHES), argv[split:]
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"== {name}: not available in this build")
                continue
            raise
        print(f"\n== {name} ==", flush=True)
        t0 = time.perf_counter()
        module.run(options)
        print(f"-- {name} done in {time.perf_counter() - t0:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
