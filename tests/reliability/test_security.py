"""Security: XSS payloads in document text, titles, file names, headings, entity names and
queries stay inert on every page (checked in the DOM of a real Chromium) and in every export;
no path traversal on downloads; writes need a valid token; queries are bounded; every
response carries CSP (no 'unsafe-inline', frame-ancestors 'none') and nosniff."""
from __future__ import annotations

import io
import json
import shutil
import threading
import urllib.parse
from pathlib import Path

import pytest

from indexer.library import ingest
from kb.auth import create_token
from kb.facade import KB

XSS = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script><svg onload=window.__xss=3>"
ATTR = "\" onmouseover=window.__xss=4 x=\""
MARKER = "zqxssmarker"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sec")
    folder = root / "in"
    folder.mkdir()
    # payloads in a file name (no '/' possible), a title, headings, body text
    (folder / "<img src=x onerror=window.__xss=5> name.md").write_text(
        f"# Title {XSS} {MARKER}\n\n## Heading {XSS}{ATTR}\n\nBody about Kazakhstan {MARKER} {XSS} {ATTR} "
        "=HYPERLINK(\"http://evil\") javascript:alert(1)\n", encoding="utf-8")
    (folder / "page.html").write_text(
        f"<!DOCTYPE html><html><head><title>&lt;script&gt;window.__xss=6&lt;/script&gt; {MARKER}</title></head>"
        f"<body><h1>&lt;img src=x onerror=window.__xss=7&gt;</h1><p>Korea {MARKER} &lt;iframe src=javascript:alert(1)&gt;"
        "</p></body></html>", encoding="utf-8")
    # 60 distinct words sharing a prefix: a wildcard over them must hit the expansion bound
    (folder / "vocab.md").write_text("# Vocabulary\n\n" + " ".join(f"zqw{i:03d}" for i in range(60)) + "\n",
                                     encoding="utf-8")
    h = root / "home"
    with KB({"home": str(h)}) as kb:
        s = ingest([folder], kb, workers=1)
        assert s["added"] == 3, s
        with kb.catalog.transaction():  # an entity name (alias) carrying a payload
            kb.catalog.add_curation("alias", f"Kazakh {XSS}", "country", "KAZ")
    return h


@pytest.fixture(scope="module")
def app(home):
    from web import create_app

    return create_app({"home": str(home), "TESTING": True, "SECRET_KEY": "test"})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def doc_ids(home) -> list[str]:
    with KB({"home": str(home)}) as kb:
        return kb.catalog.all_doc_ids()


def pages(doc_ids: list[str]) -> list[str]:
    q = urllib.parse.quote(XSS + ATTR)
    return (["/", f"/search?q={MARKER}", f"/search?q={q}", f"/search?q={MARKER}&country={q}",
             "/countries/", "/countries/KAZ", "/countries/KOR", "/entities", "/entities?type=country",
             f"/search?q={MARKER}&page=2"]
            + [f"/documents/{d}" for d in doc_ids] + [f"/documents/{d}?q={q}" for d in doc_ids])


# -- headers ---------------------------------------------------------------------------

def test_every_response_carries_csp_nosniff_and_no_framing(client, doc_ids):
    urls = pages(doc_ids) + [f"/api/v1/search?q={MARKER}", "/api/v1/health", "/api/v1/documents",
                             f"/api/v1/documents/{doc_ids[0]}", f"/api/v1/documents/{doc_ids[0]}/file",
                             "/api/v1/nope", "/nope", "/static/app.js", f"/search.atom?q={MARKER}"]
    for url in urls:
        r = client.get(url)
        assert r.status_code < 500, (url, r.status_code)
        csp = r.headers.get("Content-Security-Policy", "")
        assert csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp, (url, csp)
        assert "frame-ancestors 'none'" in csp, (url, csp)
        assert r.headers.get("X-Content-Type-Options") == "nosniff", url


# -- XSS in the DOM of a real browser ---------------------------------------------------------

@pytest.fixture(scope="module")
def server(app):
    from werkzeug.serving import make_server

    srv = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


@pytest.fixture(scope="module")
def browser():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("chromium is not on PATH: the DOM checks need a headless Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield b
        b.close()


INJECTED = ("script:not([src]), img[src='x'], svg[onload], iframe, [onerror], [onload], [onmouseover], "
            "a[href^='javascript:']")


@pytest.mark.browser
def test_payloads_stay_text_on_every_page_in_chromium(server, browser, doc_ids):
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    seen_payload_text = 0
    for url in pages(doc_ids):
        resp = page.goto(server + url)
        assert resp is not None and resp.status < 500, url
        page.wait_for_load_state("load")
        assert page.evaluate("window.__xss") is None, f"a payload ran on {url}"
        found = page.evaluate(f"Array.from(document.querySelectorAll({json.dumps(INJECTED)})).map(e => e.outerHTML)")
        assert not found, f"injected elements on {url}: {found[:3]}"
        if "window.__xss" in page.inner_text("body"):
            seen_payload_text += 1  # shown as text: escaped, not dropped silently
        # hover everything once: an attribute-breakout payload would fire here
        page.evaluate("document.querySelectorAll('body *').forEach(e => e.dispatchEvent(new MouseEvent('mouseover')))")
        assert page.evaluate("window.__xss") is None, f"an event-handler payload ran on {url}"
    assert not dialogs
    assert seen_payload_text >= 3, "the payload pages were not actually rendered with the payload text"
    page.close()


def test_exports_neutralise_payloads(client):
    for fmt in ("csv", "json", "jsonl", "xlsx", "ris", "bibtex"):
        r = client.get(f"/api/v1/search?q={MARKER}&format={fmt}")
        assert r.status_code == 200, (fmt, r.status_code, r.get_data()[:300])
        ctype = r.headers["Content-Type"]
        assert "html" not in ctype and "xml" not in ctype.replace("openxmlformats", ""), (fmt, ctype)
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
        if fmt != "json":  # format=json is the API's own response; the others are downloads
            assert "attachment" in r.headers.get("Content-Disposition", ""), fmt
        body = r.get_data()
        if fmt == "csv":
            import csv

            rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
            cells = [c for row in rows[1:] for c in row]
            assert cells and not any(c[:1] in ("=", "+", "-", "@") for c in cells), "formula injection in CSV"
        elif fmt == "xlsx":
            import openpyxl

            wb = openpyxl.load_workbook(io.BytesIO(body))
            for ws in wb.worksheets:
                for row in ws.iter_rows():
                    for c in row:
                        assert c.data_type != "f", f"formula cell {c.coordinate}: {c.value!r}"
        elif fmt == "json":
            json.loads(body)


# -- path traversal -------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "/api/v1/documents/..%2f..%2f..%2fetc%2fpasswd/file",
    "/api/v1/documents/../../../etc/passwd/file",
    "/api/v1/documents/%2e%2e%2f%2e%2e%2fpyproject.toml/file",
    "/api/v1/documents/....//....//etc/passwd/file",
    "/api/v1/documents/%252e%252e%252fetc%252fpasswd/file",
    "/static/../kb/settings.py",
    "/static/..%2f..%2fpyproject.toml",
    "/static/%2e%2e/%2e%2e/pyproject.toml",
    "/documents/..%2f..%2fetc%2fpasswd",
])
def test_no_path_traversal(client, url):
    r = client.get(url)
    assert r.status_code in (400, 404, 308), (url, r.status_code)
    body = r.get_data()
    assert b"root:" not in body and b"[project]" not in body and b"SETTINGS" not in body


def test_download_serves_only_the_catalogued_file_as_a_sandboxed_attachment(client, doc_ids):
    r = client.get(f"/api/v1/documents/{doc_ids[0]}/file")
    assert r.status_code == 200
    assert "attachment" in r.headers["Content-Disposition"]
    assert "sandbox" in r.headers["Content-Security-Policy"]
    name = r.headers["Content-Disposition"]
    assert "<" not in name and "/" not in name.split("filename", 1)[-1]


# -- writes need a valid token ----------------------------------------------------------------

def test_writes_need_a_valid_token(client, home, doc_ids):
    upload = {"file": (io.BytesIO(b"# Uploaded\n\nText.\n"), "up.md")}
    writes = [("post", "/api/v1/documents", {"data": upload, "content_type": "multipart/form-data"}),
              ("delete", f"/api/v1/documents/{doc_ids[0]}", {}),
              ("post", "/api/v1/entities/country/KOR/aliases", {"json": {"alias": "Corea"}})]
    for token in (None, "Bearer nope", "Bearer kb_" + "A" * 43, "Basic dXNlcjpwYXNz"):
        for method, url, kw in writes:
            kw = dict(kw)
            if "data" in kw:
                kw["data"] = {"file": (io.BytesIO(b"# Up\n\nText.\n"), "up.md")}
            headers = {"Authorization": token} if token else {}
            r = getattr(client, method)(url, headers=headers, **kw)
            assert r.status_code == 401, (method, url, token, r.status_code)
    with KB({"home": str(home)}) as kb:
        _, token = create_token(kb.catalog, "sec-test")
    r = client.post("/api/v1/entities/country/KOR/aliases", headers={"Authorization": f"Bearer {token}"},
                    json={"alias": "Corea del Sur"})
    assert r.status_code != 401, r.get_data()[:300]
    # the UI's curation forms refuse a post without a session and CSRF token
    r = client.post("/countries/KOR/curate", data={"action": "alias", "value": "x"})
    assert r.status_code in (400, 401, 403), r.status_code


# -- bounded queries ------------------------------------------------------------------------------

def test_query_length_page_size_and_wildcards_are_bounded(home):
    from web import create_app

    small = create_app({"home": str(home), "TESTING": True, "max_wildcard_terms": 10, "max_query_length": 200})
    c = small.test_client()
    assert c.get("/api/v1/search?q=" + "a" * 201).status_code == 400
    assert c.get("/api/v1/search?q=a&per_page=100000").status_code == 400
    assert c.get("/api/v1/search?q=a&page=-1").status_code == 400
    r = c.get("/api/v1/search?q=*")
    assert r.status_code in (200, 400)
    assert c.get("/api/v1/search?q=zqw00*").status_code == 200  # 10 terms: within the bound
    r = c.get("/api/v1/search?q=" + urllib.parse.quote("zqw*"))
    assert r.status_code == 400 and "expands to more than 10" in r.get_data(as_text=True)
    assert c.get("/search?q=" + "a" * 201).status_code == 400


def test_per_query_time_is_bounded(home):
    import time

    from web import create_app

    fast = create_app({"home": str(home), "TESTING": True, "query_time_budget": 0.05})
    c = fast.test_client()
    c.get("/api/v1/search?q=warm")
    q = urllib.parse.quote(" OR ".join(f"w{i}~2" for i in range(40)))
    t0 = time.perf_counter()
    r = c.get(f"/api/v1/search?q={q}")
    assert r.status_code in (200, 400)
    assert time.perf_counter() - t0 < 5.0


def test_atom_feed_is_well_formed_with_payloads_as_text(client):
    import xml.etree.ElementTree as ET

    for q in (MARKER, XSS):
        r = client.get("/search.atom?q=" + urllib.parse.quote(q))
        assert r.status_code in (200, 400), r.status_code
        if r.status_code != 200:
            continue
        body = r.get_data()
        root = ET.fromstring(body)  # raises on markup injected into the XML
        tags = {el.tag.rsplit("}", 1)[-1] for el in root.iter()}
        assert not tags & {"script", "img", "svg", "iframe"}, tags
        assert b"<script" not in body and b"<img" not in body
        if q == MARKER:
            assert b"window.__xss" in body, "the feed does not carry the payload text: vacuous"
