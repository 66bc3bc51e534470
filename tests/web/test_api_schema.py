"""schemathesis against the app's own /api/v1/openapi.json, in process (WSGI): no server
error on any operation, every response conforms to the schema (status, content type, body,
headers). Bounded: 15 examples per operation, no deadline."""
from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kb.auth import create_token
from kb.facade import KB
from tests.web.apikit import small_corpus
from web import create_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]

_TMP = Path(tempfile.mkdtemp(prefix="kb-schemathesis-"))
atexit.register(shutil.rmtree, _TMP, True)
_HOME = _TMP / "home"


def _app():
    # Built at collection time (schemathesis needs the schema to generate the tests); the
    # export rate limit is raised so fuzzed exports are not all 429s.
    small_corpus(_HOME)
    with KB({"home": str(_HOME)}) as kb:
        _, token = create_token(kb.catalog, "schemathesis")
    return create_app({"home": str(_HOME), "export_rate_per_minute": 100000}), token


APP, TOKEN = _app()
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi(case):
    case.call_and_validate(checks=CHECKS)


@schema.include(method=["POST", "DELETE"]).parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_writes_with_a_token_conform(case):
    """The same with a valid token, so request bodies reach validation and ingest."""
    case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Bearer {TOKEN}"})


def test_schema_covers_every_api_route():
    """Every /api/v1 route (but the spec and its page) is documented."""
    documented = set(schema.raw_schema["paths"])
    routes = {r.rule for r in APP.url_map.iter_rules() if r.endpoint.startswith("api.")}
    import re

    routes = {re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", lambda m: "{" + {"doc_id": "id", "entity_id": "id", "type_": "type"}
                     .get(m.group(1), m.group(1)) + "}", r) for r in routes}
    assert routes - documented == {"/api/v1/openapi.json", "/api/v1/docs"}
