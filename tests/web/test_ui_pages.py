"""The UI pages through the Flask test client, over a KB home built from the corpus report plus two
hostile documents (XSS payloads in title, heading, text, file name and entity names)."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from kb.facade import KB
from kb.model import Document, Mention, Passage
from tests.conftest import CORPUS, SHARED

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
XSS_DOC = "xss0000000000001"
LONG_DOC = "long000000000001"  # more passages than one document page shows
REPORT = CORPUS / "forum-2012-final-report.md"



def _hostile(kb: KB, home: Path) -> None:
    name = f"evil{XSS}.txt".replace("/", "_")
    p0 = Passage(XSS_DOC, 0, f"Kazakhstan wrote {XSS} about cloud computing.", [f"Heading {XSS}"], 1, 1)
    p1 = Passage(XSS_DOC, 1, f"Second passage {XSS} mentions Panama.", [f"Heading {XSS}"], 2, 2)
    mentions = [Mention("country", "KAZ", "Kazakhstan", "Kazakhstan", 0, 10, p0.id),
                Mention("org", "evil-org", f"Evil {XSS} Org", "wrote", 11, 16, p0.id),
                Mention("topic", "cloud-computing", "Cloud computing", "cloud computing",
                        p0.text.index("cloud"), p0.text.index("cloud") + 15, p0.id),
                Mention("person", "evil-person", f"Mr {XSS}", "Second", 0, 6, p1.id),
                Mention("country", "PAN", "Panama", "Panama", p1.text.index("Panama"),
                        p1.text.index("Panama") + 6, p1.id)]
    with kb.catalog.transaction():
        kb.catalog.put_document(Document(XSS_DOC, "txt", sha256="f" * 64, title=f"Title {XSS}", year=2013,
                                         metadata={"authors": [f"Author {XSS}"]}), [p0, p1], mentions)
        kb.catalog.add_path(XSS_DOC, str(home / name), 0.0, 10)
        kb.catalog.put_person("evil-person", f"Mr {XSS}", {"affiliations": [f"Org {XSS}"]})


def _long(kb: KB) -> None:
    passages = [Passage(LONG_DOC, i, f"Ledger row {i}: entry ledgerkey{i} for Kazakhstan.", ["Ledger"], None, None,
                        kind="table_row") for i in range(260)]
    mentions = [Mention("country", "KAZ", "Kazakhstan", "Kazakhstan", p.text.index("Kazakh"),
                        p.text.index("Kazakh") + 10, p.id) for p in passages]
    with kb.catalog.transaction():
        kb.catalog.put_document(Document(LONG_DOC, "xlsx", sha256="e" * 64, title="Long ledger", year=2011),
                                passages, mentions)


def build_home(home: Path, indicators: str = "") -> KB:
    """Ingest the corpus report with the real pipeline (a failure fails the tests: no
    stand-in catalog), add the hostile and the long documents, bring the index up to date."""
    from indexer.library import ingest
    from indexer.library import sync as sync_index

    kb = KB({"home": str(home), "indicators": indicators})
    summary = ingest([REPORT], kb, workers=1)
    assert summary["added"] == 1 and not summary["failed"], summary
    assert kb.catalog.entity_counts("country"), "the tagger found no country in the forum report"
    _hostile(kb, home)
    _long(kb)
    sync_index(kb)
    return kb


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    home = tmp_path_factory.mktemp("uihome")
    egdi = SHARED / "data" / "egov" / "egdi"
    kb = build_home(home, str(egdi) if egdi.is_dir() else "")
    from web import create_app

    app = create_app({"home": str(home), "indicators": str(egdi) if egdi.is_dir() else "", "TESTING": True})
    report_id = next(d for d in kb.catalog.all_doc_ids() if d not in (XSS_DOC, LONG_DOC))
    yield {"client": app.test_client(), "kb": kb, "report": report_id, "egdi": egdi.is_dir(), "app": app}
    kb.close()


def _get(ui, url: str, status: int = 200) -> str:
    r = ui["client"].get(url)
    assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:500])
    assert r.headers["Content-Type"].startswith("text/html")
    return r.get_data(as_text=True)


def _no_payload(body: str) -> None:
    """The payload appears only escaped: no live script tag or img element from it."""
    assert "<script>alert(1)" not in body
    assert "<img src=x" not in body
    assert "onerror=alert(2)>" not in body.replace("&gt;", "")  # the attribute never forms a tag


# -- pages ---------------------------------------------------------------------
def test_home_shows_figures_and_browse_links(ui):
    body = _get(ui, "/")
    figures = ui["kb"].catalog.stats()
    assert f"<dd>{figures['documents']:,}</dd>" in body
    assert f"<dd>{figures['passages']:,}</dd>" in body
    assert 'href="/countries/KAZ"' in body
    assert 'action="/search"' in body and '<label for="q"' in body
    assert 'href="/regions/asia"' in body or 'href="/regions/' in body


def test_search_hits_facets_chips_and_links(ui):
    body = _get(ui, "/search?q=cloud+computing")
    assert f'href="/documents/{ui["report"]}#p-' in body
    assert "<mark>" in body.lower()
    assert 'href="/search?q=cloud+computing&amp;country=KAZ"' in body  # the facet link
    assert "/api/v1/search?q=cloud+computing&amp;format=csv" in body
    assert 'href="/search.atom?q=cloud+computing"' in body
    assert "More like this" in body
    narrowed = _get(ui, "/search?q=cloud+computing&country=KAZ")
    assert "Active filters" in narrowed
    assert 'href="/search?q=cloud+computing"' in narrowed  # the chip's remove link
    assert "Kazakhstan" in narrowed and 'href="/countries/KAZ"' in narrowed
    total = int(re.search(r'<h2 id="rh">(\d+) passage', narrowed).group(1))
    kaz_passages = ui["kb"].catalog.db.execute(
        "SELECT COUNT(DISTINCT passage_id) FROM mentions WHERE type='country' AND entity_id='KAZ'").fetchone()[0]
    assert 1 <= total <= kaz_passages


def test_misspelt_query_is_corrected_with_a_way_back(ui):
    body = _get(ui, "/search?q=clowd+computing")
    assert "Showing results for <strong>cloud computing</strong>" in body
    assert 'href="/search?q=clowd+computing&amp;correct=0"' in body
    assert "Did you mean" not in body  # the correction says it already
    assert "<mark>" in body.lower()
    as_typed = _get(ui, "/search?q=clowd+computing&correct=0")
    assert "Showing results for" not in as_typed


def test_search_sort_paging_and_more_like(ui):
    body = _get(ui, "/search?q=government&per_page=2&sort=date")
    assert 'rel="next"' in body and "page=2" in body
    assert '<option value="date" selected>' in body
    hit = re.search(r'href="/search\?like=([^"]+)"', body).group(1)
    like = _get(ui, f"/search?like={hit}")
    assert "Passages like" in like


def test_search_atom_feed(ui):
    r = ui["client"].get("/search.atom?q=cloud+computing")
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    text = r.get_data(as_text=True)
    assert text.count("<entry>") >= 1 and f"/documents/{ui['report']}#p-" in text


def test_document_page_passages_mentions_citation(ui):
    doc_id = ui["report"]
    body = _get(ui, f"/documents/{doc_id}")
    n = len(ui["kb"].catalog.passages(doc_id))
    assert body.count('class="passage ') == n
    assert 'id="p-0"' in body and f'id="p-{n - 1}"' in body
    assert 'class="mention m-country" href="/countries/KAZ"' in body
    assert '<meta name="citation_title"' in body and "citation_publication_date" in body
    assert f'href="/api/v1/documents/{doc_id}/file"' in body
    assert "TY  - " in body and "@misc{" in body


def test_country_dossier(ui):
    body = _get(ui, "/countries/KAZ")
    assert "e-Notary" in body
    assert "Central Asia" in body
    assert "Казахстан" in body and "哈萨克斯坦" in body  # names in the UN languages
    assert 'href="/countries/UZB"' in body  # a peer in the sub-region
    assert 'href="/topics/' in body  # practices grouped by topic
    if ui["egdi"]:
        assert "E-Government Development Index" in body and "0.8628" in body
    assert _get(ui, "/countries/kaz") == body or "Kazakhstan" in _get(ui, "/countries/kaz")


def test_countries_index_map(ui):
    body = _get(ui, "/countries/")
    assert "<svg" in body and 'href="/countries/KAZ" class="tile c' in body
    assert "Tile map of countries" in body
    kaz = re.search(r'href="/countries/KAZ" class="tile (c\d)"', body).group(1)
    assert kaz != "c0"  # mentioned, so coloured


def test_entity_pages(ui):
    topic = _get(ui, "/topics/cloud-computing")
    assert "Countries most associated" in topic and 'href="/countries/KAZ"' in topic
    orgs = ui["kb"].catalog.entity_counts("org")
    org = next(o for o in orgs if o["entity_id"] != "evil-org")
    body = _get(ui, f"/organisations/{org['entity_id']}")
    assert html.escape(org["name"]) in body
    person = _get(ui, "/people/evil-person")
    assert "Affiliations" in person and "Org &lt;script&gt;" in person  # free text, not linked
    people = [p for p in ui["kb"].catalog.people() if p["id"] != "evil-person" and p.get("appearances")]
    if people:  # the pipeline records people with their affiliations and appearances
        body = _get(ui, f"/people/{people[0]['id']}")
        assert "Appearances" in body and f'href="/documents/{people[0]["appearances"][0]["doc_id"]}"' in body
    idx = _get(ui, "/entities")
    assert 'href="/topics/cloud-computing"' in idx
    assert 'href="/countries/KAZ"' in _get(ui, "/entities?type=country")


def test_region_page(ui):
    body = _get(ui, "/regions/central-asia")
    assert 'href="/countries/KAZ"' in body and "Central Asia" in body


@pytest.mark.parametrize("url", ["/countries/XXX", "/countries/K4Z", "/organisations/no-such-org",
                                 "/people/nobody-at-all", "/topics/no-such-topic", "/regions/atlantis",
                                 "/documents/0000000000000000", "/search?like=nope-1"])
def test_unknown_ids_are_404_pages(ui, url):
    body = _get(ui, url, 404)
    assert "<h1>404" in body


@pytest.mark.parametrize("url", ["/search?q=x&page=-1", "/search?q=x&per_page=abc", "/search?q=x&per_page=100000",
                                 "/search?q=x&sort=sideways", "/search?q=x&year=12ab", "/entities?type=planet",
                                 "/search.atom", "/search?q=" + "a" * 5000])
def test_bad_parameters_are_400_pages(ui, url):
    body = _get(ui, url, 400)
    assert "<h1>400" in body


def test_long_document_is_shown_in_parts(ui):
    first = _get(ui, f"/documents/{LONG_DOC}")
    assert first.count('class="passage ') == 250 and 'id="p-249"' in first and 'id="p-250"' not in first
    assert 'href="?part=2"' in first and "251–260" in first
    second = _get(ui, f"/documents/{LONG_DOC}?part=2")
    assert second.count('class="passage ') == 10 and 'id="p-250"' in second and 'id="p-259"' in second
    hits = _get(ui, "/search?q=ledgerkey255")
    assert f'href="/documents/{LONG_DOC}?part=2#p-255"' in hits
    assert f'href="/documents/{LONG_DOC}#p-5"' in _get(ui, "/search?q=ledgerkey5")
    _get(ui, f"/documents/{LONG_DOC}?part=3", 404)
    _get(ui, f"/documents/{LONG_DOC}?part=0", 400)
    _get(ui, f"/documents/{LONG_DOC}?part=abc", 400)


# -- XSS -----------------------------------------------------------------------
@pytest.mark.parametrize("url", ["/", f"/documents/{XSS_DOC}", "/search?q=alert", "/search?q=script",
                                 "/countries/KAZ", "/countries/PAN", "/organisations/evil-org",
                                 "/people/evil-person", "/topics/cloud-computing", "/entities",
                                 "/search?q=" + XSS, "/search?q=x&country=" + XSS])
def test_payloads_are_escaped(ui, url):
    r = ui["client"].get(url)
    assert r.status_code in (200, 400)
    _no_payload(r.get_data(as_text=True))


def test_payload_document_renders_escaped_text(ui):
    body = _get(ui, f"/documents/{XSS_DOC}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert 'content="Title &lt;script&gt;' in body  # citation_title meta
    assert "evil&lt;script&gt;" in body or "evil" in body


def test_atom_escapes_payload(ui):
    r = ui["client"].get("/search.atom?q=alert")
    text = r.get_data(as_text=True)
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_pages_carry_no_inline_script_or_style(ui):
    for url in ("/", "/search?q=cloud", f"/documents/{ui['report']}", "/countries/", "/countries/KAZ"):
        body = _get(ui, url)
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), url
        assert "style=" not in body and "<style" not in body, url
        assert "http://" not in body.replace("http://localhost", "") and "https://" not in body, url


# -- curation ------------------------------------------------------------------
def test_curation_needs_sign_in_and_records_actions(ui):
    from kb import auth

    client = ui["app"].test_client()
    page = client.get("/organisations/evil-org").get_data(as_text=True)
    assert "Sign in as a curator" in page and 'name="action"' not in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/curate/signin").get_data(as_text=True)).group(1)
    r = client.post("/organisations/evil-org/curate", data={"csrf": csrf, "action": "alias", "value": "x"})
    assert r.status_code == 401
    bad = client.post("/curate/signin", data={"csrf": csrf, "token": "kb_wrong"})
    assert bad.status_code == 401
    _, token = auth.create_token(ui["kb"].catalog, "ui-test")
    ok = client.post("/curate/signin", data={"csrf": csrf, "token": token, "next": "/organisations/evil-org"})
    assert ok.status_code == 303 and ok.headers["Location"].endswith("/organisations/evil-org")
    page = client.get("/organisations/evil-org").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post("/organisations/evil-org/curate",
                       data={"csrf": "forged", "action": "alias", "value": "Evil Org"}).status_code == 401
    r = client.post("/organisations/evil-org/curate", data={"csrf": csrf, "action": "alias", "value": "Evil Org"})
    assert r.status_code == 303
    rows = [c for c in ui["kb"].catalog.curation() if c["entity_id"] == "evil-org"]
    assert rows and rows[-1]["action"] == "alias" and rows[-1]["value"] == "Evil Org"
    assert client.post("/organisations/evil-org/curate",
                       data={"csrf": csrf, "action": "explode", "value": "x"}).status_code == 400
    nxt = client.post("/curate/signin", data={"csrf": csrf, "token": token, "next": "//evil.example/"})
    assert nxt.headers["Location"].endswith("/") and "evil.example" not in nxt.headers["Location"]


# -- real third-party texts ------------------------------------------------------
@pytest.mark.shared
def test_pages_render_with_ungd_speeches(shared, tmp_path):
    """Three General Debate speeches through the real pipeline: every kind of page renders
    for the entities the tagger found in them."""
    from indexer.library import ingest
    from web import create_app

    src = shared / "texts" / "ungd-2024" / "txt"
    picked = tmp_path / "ungd"
    picked.mkdir()
    for name in ("KAZ", "KOR", "BRA"):
        for f in sorted(src.glob(f"{name}*.txt"))[:1]:
            (picked / f.name).write_bytes(f.read_bytes())
    home = tmp_path / "home"
    with KB({"home": str(home)}) as kb:
        summary = ingest([picked], kb, workers=1)
        assert summary["added"] == len(list(picked.iterdir())) == 3
        counts = {t: kb.catalog.entity_counts(t)[:3] for t in ("country", "org", "person", "topic")}
        docs = kb.catalog.all_doc_ids()
    client = create_app({"home": str(home)}).test_client()
    routes = {"country": "countries", "org": "organisations", "person": "people", "topic": "topics"}
    urls = ["/", "/countries/", "/entities", "/search?q=climate", "/search?q=climate&sort=date&page=1"]
    urls += [f"/{routes[t]}/{e['entity_id']}" for t, rows in counts.items() for e in rows]
    urls += [f"/documents/{d}" for d in docs]
    assert counts["country"], "the tagger found no country in the speeches"
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
    kaz = client.get("/countries/KAZ").get_data(as_text=True)
    assert "Kazakhstan" in kaz and "Central Asia" in kaz


def test_export_and_feed_links_work(ui):
    """Every export link on a results page is answered by the API with its format."""
    body = _get(ui, "/search?q=cloud+computing&country=KAZ&sort=date")
    links = [h.replace("&amp;", "&") for h in re.findall(r'href="(/api/v1/search\?[^"]+)"', body)]
    assert len(links) == 5
    types = {"csv": "text/csv", "jsonl": "application/x-ndjson", "ris": "application/x-research-info-systems",
             "bibtex": "application/x-bibtex", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    for href in links:
        assert "country=KAZ" in href and "sort=date" in href
        r = ui["client"].get(href)
        fmt = href.rsplit("format=", 1)[1]
        assert r.status_code == 200 and r.mimetype == types[fmt], (href, r.status_code)


def test_country_page_benchmarks_egdi_without_a_setting(tmp_path):
    """No KB_INDICATORS: the shipped 2022 survey gives every country page its EGDI, the medians
    of its sub-region, region and the world, its ranks, and the chart."""
    from web import create_app

    app = create_app({"home": str(tmp_path / "home"), "indicators": "", "TESTING": True})
    body = html.unescape(app.test_client().get("/countries/KAZ").get_data(as_text=True))
    assert "E-Government Development Index" in body and "0.8628" in body
    assert "EGDI 2022 against its peers" in body
    assert re.search(r"<td>Central Asia</td><td class=\"num\">0\.\d{4}</td><td class=\"num\">1 of 5</td>", body)
    assert "<td>Asia</td>" in body and "28 of 193" in body
    assert '<rect class="bar own"' in body
