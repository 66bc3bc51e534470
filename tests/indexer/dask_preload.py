"""Preloaded into the test cluster's Dask workers (`dask worker --preload`): a task for a file
whose name contains "kill-worker" SIGKILLs the Dask worker process running it, as the host's
out-of-memory killer would. Only the workers of tests/indexer/test_distributed.py load it."""
from __future__ import annotations

import os
import signal

from indexer import distributed

_original = distributed._sandbox


def _sandbox(fn, payload, *args):  # type: ignore[no-untyped-def]
    if "kill-worker" in os.path.basename(str(getattr(payload, "path", ""))):
        os.kill(os.getpid(), signal.SIGKILL)
    return _original(fn, payload, *args)


distributed._sandbox = _sandbox
