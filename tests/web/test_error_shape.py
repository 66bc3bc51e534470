"""Pins the one error shape: every 4xx/5xx under /api is application/problem+json (RFC 9457)
with type, title, status and detail; other paths get an HTML page with the text escaped."""
from __future__ import annotations

import json

import pytest

from kb import errors as E
from web import create_app

PROBLEM_KEYS = {"type", "title", "status", "detail"}


@pytest.fixture
def app(kb_home):
    app = create_app({"home": str(kb_home), "export_rate_per_minute": 2})

    # Routes that raise on purpose, added before the first request (as a plugin would).
    def boom():
        raise RuntimeError("secret /etc/shadow detail in a traceback")

    def raise_kb(kind):
        exc = {"busy": E.BusyError("the index is locked by another writer"),
               "size": E.LimitExceededError("too big", status=413),
               "rate": E.LimitExceededError("slow down", retry_after=7),
               "catalog": E.CatalogError("disk I/O error at /var/lib/kb"),
               "query": E.InvalidQueryError("unbalanced quote")}[kind]
        raise exc

    app.add_url_rule("/api/v1/_test/boom", "boom", boom)
    app.add_url_rule("/api/v1/_test/<kind>", "raise_kb", raise_kb)
    app.add_url_rule("/_test/html-boom", "html_boom", lambda: raise_kb("query"))
    return app


def check_problem(resp, status):
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    body = json.loads(resp.data)
    assert PROBLEM_KEYS <= body.keys()
    assert body["status"] == status and isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and isinstance(body["type"], str)
    assert "Traceback" not in resp.get_data(as_text=True)
    return body


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/", "/api/v2/search", "/api/v1/documents/a/b/c/d"])
def test_unknown_routes(app, path):
    check_problem(app.test_client().get(path), 404)


def test_wrong_method_lists_allowed(app):
    resp = app.test_client().put("/api/v1/search")
    body = check_problem(resp, 405)
    assert "GET" in resp.headers["Allow"] and "PUT" in body["detail"]
    check_problem(app.test_client().delete("/api/v1/openapi.json"), 405)


def test_bad_input_is_400(app):
    c = app.test_client()
    for url in ("/api/v1/search?per_page=0", "/api/v1/search?per_page=101", "/api/v1/search?page=x",
                "/api/v1/search?sort=random", "/api/v1/search?format=pdf", "/api/v1/search?year=12",
                "/api/v1/search?country=%3Cscript%3E", "/api/v1/entities?type=planet",
                "/api/v1/search?q=" + "a" * 1001):
        body = check_problem(c.get(url), 400)
        assert body["code"] in ("invalid_input", "invalid_query")
    body = check_problem(c.get("/api/v1/_test/query"), 400)
    assert body["code"] == "invalid_query" and body["detail"] == "unbalanced quote"


def test_writes_without_token_are_401(app):
    c = app.test_client()
    for resp in (c.post("/api/v1/documents"), c.delete("/api/v1/documents/x"),
                 c.post("/api/v1/entities/country/KOR/aliases", json={"alias": "ROK"}),
                 c.post("/api/v1/documents", headers={"Authorization": "Bearer nope"})):
        body = check_problem(resp, 401)
        assert body["code"] == "unauthorized"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_not_found_is_404(app):
    c = app.test_client()
    check_problem(c.get("/api/v1/documents/no-such-doc"), 404)
    check_problem(c.get("/api/v1/documents/no-such-doc/file"), 404)
    check_problem(c.get("/api/v1/countries/1234"), 404)


def test_unhandled_exception_is_500_without_leak(app):
    app.testing = False  # as in production: no exception propagation
    resp = app.test_client().get("/api/v1/_test/boom")
    body = check_problem(resp, 500)
    assert "secret" not in resp.get_data(as_text=True) and "shadow" not in resp.get_data(as_text=True)
    assert body["code"] == "internal_error"


def test_kb_errors_map_to_statuses(app):
    c = app.test_client()
    resp = c.get("/api/v1/_test/busy")
    check_problem(resp, 503)
    assert int(resp.headers["Retry-After"]) > 0
    check_problem(c.get("/api/v1/_test/size"), 413)
    resp = c.get("/api/v1/_test/rate")
    check_problem(resp, 429)
    assert resp.headers["Retry-After"] == "7"
    resp = c.get("/api/v1/_test/catalog")
    check_problem(resp, 500)
    assert "/var/lib" not in resp.get_data(as_text=True)


def test_export_rate_limit_is_429_with_retry_after(app):
    c = app.test_client()
    for _ in range(2):
        assert c.get("/api/v1/search?q=x&format=csv").status_code == 200
    resp = c.get("/api/v1/search?q=x&format=csv")
    check_problem(resp, 429)
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    # another client is not affected (per-client window)
    assert c.get("/api/v1/search?q=x&format=csv", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200
    # JSON search is not an export and is not limited
    assert c.get("/api/v1/search?q=x").status_code == 200


def test_errors_carry_security_headers(app):
    resp = app.test_client().get("/api/v1/nope")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


def test_html_errors_outside_api_escape_the_detail(app):
    c = app.test_client()
    resp = c.get("/no-such-page-<script>alert(1)</script>")
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert "<script>alert(1)</script>" not in resp.get_data(as_text=True)
    resp = c.get("/_test/html-boom")
    assert resp.status_code == 400 and resp.mimetype == "text/html"
    assert "unbalanced quote" in resp.get_data(as_text=True)
