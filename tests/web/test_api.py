"""API v1 reads, exports over HTTP, auth-protected writes and security headers, on a real
catalog + Whoosh index built by tests/web/apikit.py."""
from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from kb import auth
from kb.facade import KB
from tests.web.apikit import small_corpus
from web import create_app


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return small_corpus(tmp_path_factory.mktemp("api") / "home")


@pytest.fixture(scope="module")
def client(corpus):
    return create_app({"home": corpus["home"]}).test_client()


def get_json(client, url, status=200):
    resp = client.get(url)
    assert resp.status_code == status, resp.data
    assert resp.mimetype == ("application/json" if status < 400 else "application/problem+json")
    return json.loads(resp.data)


# -- reads -------------------------------------------------------------------
def test_search_json_with_facets_and_filters(client):
    data = get_json(client, "/api/v1/search?q=broadband")
    assert data["total"] == 3 and {h["doc_id"] for h in data["results"]} == {"doc-seoul", "doc-almaty", "doc-notes"}
    assert {f["value"] for f in data["facets"]["type"]} == {"txt", "pptx", "md"}
    assert all("/" not in h["path"] for h in data["results"])  # file names only, no server paths
    data = get_json(client, "/api/v1/search?q=broadband&country=KOR&facets=0")
    assert [h["passage_id"] for h in data["results"]] == ["doc-seoul-0"]
    assert not any(data["facets"].values())
    data = get_json(client, "/api/v1/search?country=KOR,KAZ&year=2013")
    assert [h["passage_id"] for h in data["results"]] == ["doc-almaty-0"]


def test_unknown_words_are_corrected_unless_correct_0(client):
    data = get_json(client, "/api/v1/search?q=brodband")
    assert data["corrected_query"] == data["suggestion"] == "broadband" and data["total"] == 3
    data = get_json(client, "/api/v1/search?q=brodband&correct=0")
    assert data["corrected_query"] is None and data["total"] == 0
    assert data["suggestion"] == "broadband"


def test_cursor_pages_through_everything_once(client):
    seen, url = [], "/api/v1/search?q=broadband OR kazakhstan OR korea&per_page=1"
    total = None
    for _ in range(20):
        data = get_json(client, url)
        total = data["total"]
        seen += [h["passage_id"] for h in data["results"]]
        if not data["next_cursor"]:
            break
        url = data["links"]["next"]
    assert len(seen) == len(set(seen)) == total and total >= 4


def test_documents_list_and_one_document(client, corpus):
    data = get_json(client, "/api/v1/documents?per_page=2")
    assert data["total"] == 3 and len(data["documents"]) == 2
    page2 = get_json(client, "/api/v1/documents?per_page=2&page=2")
    assert len(page2["documents"]) == 1
    ids = {d["id"] for d in data["documents"] + page2["documents"]}
    assert ids == set(corpus["doc_ids"])
    doc = get_json(client, "/api/v1/documents/doc-seoul")
    assert doc["document"]["title"] == "Seoul e-Government Forum 2012"
    assert doc["document"]["file_name"] == "seoul report.txt" and "paths" not in doc["document"]
    assert [p["ordinal"] for p in doc["passages"]] == [0, 1, 2, 3, 4]
    assert {m["id"] for m in doc["passages"][1]["mentions"]} == {"KOR", "KAZ", "e-procurement"}


def test_file_download_is_safe(client, corpus):
    resp = client.get("/api/v1/documents/doc-seoul/file")
    assert resp.status_code == 200 and resp.data == corpus["report"].read_bytes()
    assert resp.mimetype == "text/plain"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="Seoul e-Government Forum 2012.txt"'
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    # a document without a stored file
    assert client.get("/api/v1/documents/doc-almaty/file").status_code == 404


@pytest.mark.parametrize("doc_id", [
    "../../etc/passwd", "..%2f..%2fetc%2fpasswd", "%2e%2e", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..",
    "....//....//etc/passwd", "%252e%252e%252fetc", "doc-seoul%00", "/etc/passwd", "C:%5Cwindows%5Cwin.ini",
])
def test_path_like_ids_never_reach_the_filesystem(client, doc_id):
    for suffix in ("", "/file"):
        resp = client.get(f"/api/v1/documents/{doc_id}{suffix}")
        assert resp.status_code == 404
        assert resp.mimetype == "application/problem+json"
        assert b"root:" not in resp.data


def test_entities_and_countries(client):
    data = get_json(client, "/api/v1/entities?type=country")
    assert {(e["id"], e["mentions"]) for e in data["entities"]} == {("KOR", 2), ("KAZ", 2)}
    alltypes = get_json(client, "/api/v1/entities")
    assert {e["type"] for e in alltypes["entities"]} == {"country", "topic", "org"}
    page = get_json(client, "/api/v1/entities/org/undesa")
    assert page["record"]["id"] == "undesa"
    assert [p["id"] for p in page["passages"]] == ["doc-seoul-2"]
    kaz = get_json(client, "/api/v1/countries/kaz")
    assert kaz["record"]["id"] == "KAZ"
    assert {d["id"] for d in kaz["documents"]} == {"doc-seoul", "doc-almaty"}
    get_json(client, "/api/v1/entities/planet/earth", status=400)


def test_stats_health_openapi_docs(client):
    stats = get_json(client, "/api/v1/stats")
    assert stats["catalog"]["documents"] == 3 and stats["catalog"]["passages"] == 9
    health = get_json(client, "/api/v1/health")
    assert health["status"] == "ok" and health["passages"] == 9 and health["index_build"]
    spec = get_json(client, "/api/v1/openapi.json")
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/search", "/api/v1/documents/{id}/file", "/api/v1/entities/{type}/{id}/merge",
            "/api/v1/countries/{iso3}", "/api/v1/health"} <= set(spec["paths"])
    docs = client.get("/api/v1/docs")
    html = docs.get_data(as_text=True)
    assert docs.status_code == 200 and "GET /api/v1/search" in html and "<script" not in html
    assert 'id="problem-unauthorized"' in html


def test_cors_on_reads_only_and_security_headers(client):
    resp = client.get("/api/v1/health", headers={"Origin": "https://notebook.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    csp = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["Referrer-Policy"]
    resp = client.delete("/api/v1/documents/doc-seoul", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert client.get("/").headers["X-Content-Type-Options"] == "nosniff"


# -- exports -----------------------------------------------------------------
def test_exports_over_http(client):
    resp = client.get("/api/v1/search?q=broadband&format=csv&bom=1")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="kb-export-broadband.csv"'
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"), newline="")))
    assert len(rows) - 1 == 3 and rows[0][0] == "passage_id"  # header first, nothing before it
    # provenance beside the body: headers, and a link to the same export's sidecar
    assert resp.headers["X-KB-Query"] == "broadband" and resp.headers["X-KB-Index-Build"] != "unknown"
    link = resp.headers["Link"]
    assert 'rel="describedby"' in link and "meta=1" in link and "format=csv" in link
    side = client.get(link[link.index("<") + 1:link.index(">")])
    assert side.status_code == 200 and side.mimetype == "application/json"
    assert side.json["query"] == "broadband" and side.json["passages"] == 3 and side.json["format"] == "csv"
    assert side.json["build_id"] == resp.headers["X-KB-Index-Build"]

    resp = client.get("/api/v1/search?q=hyperlink&format=csv")
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8"), newline="")))
    assert rows[1][9].startswith("'=HYPERLINK")  # formula neutralised in the text column

    lines = client.get("/api/v1/search?q=korea&format=jsonl").data.decode().splitlines()
    assert len(lines) >= 2 and all(set(json.loads(x)) == set(json.loads(lines[0])) for x in lines)
    lines = client.get("/api/v1/search?q=korea&format=jsonl&meta=inline").data.decode().splitlines()
    assert json.loads(lines[0])["type"] == "meta" and json.loads(lines[0])["query"] == "korea"
    assert client.get("/api/v1/search?q=korea&format=jsonl&meta=2").status_code == 400

    resp = client.get("/api/v1/search?country=KAZ&format=xlsx")
    wb = load_workbook(io.BytesIO(resp.data), read_only=True)
    assert wb.sheetnames == ["results", "provenance"]
    assert len(list(wb["results"].iter_rows())) == 3

    ris = client.get("/api/v1/search?q=broadband&format=ris").data.decode()
    assert ris.count("ER  - ") == 3
    bib = client.get("/api/v1/search?q=broadband&format=bibtex").data.decode()
    assert bib.count("@misc{") + bib.count("@techreport{") == 3


def test_export_of_a_bad_query_is_400_not_a_broken_file(client):
    resp = client.get("/api/v1/search?year=20x3&format=csv")
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"


# -- writes ------------------------------------------------------------------
@pytest.fixture
def writable(tmp_path):
    info = small_corpus(tmp_path / "home")
    app = create_app({"home": info["home"]})
    with KB({"home": info["home"]}) as kb:
        _, token = auth.create_token(kb.catalog, "tester")
        _, revoked = auth.create_token(kb.catalog, "old")
        auth.revoke_token(kb.catalog, "old")
    return app.test_client(), token, revoked, info


def test_delete_needs_a_valid_token(writable):
    c, token, revoked, _ = writable
    for headers in ({}, {"Authorization": "Bearer kb_wrong"}, {"Authorization": f"Bearer {revoked}"},
                    {"Authorization": f"Basic {token}"}):
        assert c.delete("/api/v1/documents/doc-almaty", headers=headers).status_code == 401
    assert get_json(c, "/api/v1/documents")["total"] == 3  # nothing changed
    resp = c.delete("/api/v1/documents/doc-almaty", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.get_json() == {"deleted": "doc-almaty"}
    assert get_json(c, "/api/v1/documents")["total"] == 2
    assert get_json(c, "/api/v1/search?q=almaty")["total"] == 0  # gone from the index too
    assert c.delete("/api/v1/documents/doc-almaty", headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_curation_is_recorded(writable):
    c, token, _, info = writable
    h = {"Authorization": f"Bearer {token}"}
    r = c.post("/api/v1/entities/country/KOR/aliases", json={"alias": "South Korea"}, headers=h)
    assert r.status_code == 201 and r.get_json()["by"] == "tester"
    assert r.get_json()["applied"].startswith("re-tagged ")
    # validated: an entity nobody knows cannot be curated or merged into
    assert c.post("/api/v1/entities/org/undesa/merge", json={"into": "un-desa"}, headers=h).status_code == 404
    assert c.post("/api/v1/entities/org/no-such-org/aliases", json={"alias": "X"}, headers=h).status_code == 404
    assert c.post("/api/v1/entities/org/undesa/merge", json={"into": "un"}, headers=h).status_code == 201
    assert c.post("/api/v1/entities/topic/broadband/reject", json={}, headers=h).status_code == 201
    # merging into itself is well-formed but contradicts itself: 409 (the schema cannot say it)
    assert c.post("/api/v1/entities/org/undesa/merge", json={"into": "undesa"}, headers=h).status_code == 409
    assert c.post("/api/v1/entities/topic/broadband/reject", json={"text": None}, headers=h).status_code == 400
    assert c.post("/api/v1/entities/org/undesa/aliases", data="x", headers=h).status_code == 400
    assert c.post("/api/v1/entities/org/undesa/aliases", json={"alias": "x"}).status_code == 401
    with KB({"home": info["home"]}) as kb:
        rows = [(r["action"], r["type"], r["entity_id"], r["value"]) for r in kb.catalog.curation()]
    assert rows == [("alias", "country", "KOR", "South Korea"), ("merge", "org", "undesa", "un"),
                    ("reject", "topic", "broadband", "broadband")]
