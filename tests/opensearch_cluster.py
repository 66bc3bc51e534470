"""The OpenSearch cluster the tests run against: `KB_OPENSEARCH_URL` (set by `make test`, which
starts a local two-node cluster with scripts/opensearch.py), else a cluster started by
`make opensearch-up`. The tests skip only when java or mvn is missing; with both present, a
cluster that did not start (or was never started) fails them."""
from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "opensearch.py"


@functools.cache
def cluster_script() -> ModuleType:
    """scripts/opensearch.py as a module (it is a stand-alone script, not a package)."""
    spec = importlib.util.spec_from_file_location("kb_opensearch_script", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def cluster_urls() -> list[str]:
    error = os.environ.get("KB_OPENSEARCH_START_ERROR")
    if error:
        pytest.fail(f"the OpenSearch cluster did not start: {error}")
    configured = os.environ.get("KB_OPENSEARCH_URL", "")
    if configured.strip():
        return [u.strip() for u in configured.split(",") if u.strip()]
    script = cluster_script()
    if not (shutil.which("java") and shutil.which("mvn")):
        pytest.skip(script.JAVA_MISSING)
    urls = script.running()
    if not urls:
        pytest.fail("no OpenSearch cluster: run `make opensearch-up` (or `make test`, which "
                    "starts one), or set KB_OPENSEARCH_URL to a cluster's node URLs")
    return urls


@pytest.fixture(scope="session")
def opensearch_urls() -> list[str]:
    return cluster_urls()
