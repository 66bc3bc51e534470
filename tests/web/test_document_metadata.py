"""A document ingested with a sidecar shows its metadata on its page (Flask test client over
a KB home built by the real pipeline from two UNGD speeches and corpus/ungd-2024/metadata.csv)."""
from __future__ import annotations

import html
import shutil

import pytest

from indexer.library import ingest
from kb.facade import KB
from tests.conftest import CORPUS

UNGD = CORPUS / "ungd-2024"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("docmeta")
    folder = base / "ungd"
    folder.mkdir()
    for name in ("KAZ_79_2024.txt", "EU_79_2024.txt"):
        shutil.copy(UNGD / name, folder)
    rows = [line for line in (UNGD / "metadata.csv").read_text(encoding="utf-8").splitlines()
            if line.startswith(("file,", "KAZ_", "EU_"))]
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with KB({"home": str(base / "home")}) as kb:
        summary = ingest([folder], kb, workers=1)
        assert (summary["added"], summary["failed"], summary["warnings"]) == (2, 0, [])
        docs = {d["metadata"]["filename"]: d for d in kb.catalog.list_documents()}
    from web import create_app

    return create_app({"home": str(base / "home"), "TESTING": True}).test_client(), docs


def test_document_page_shows_speaker_post_date_country_collection_and_source(site):
    client, docs = site
    page = html.unescape(client.get(f"/documents/{docs['KAZ_79_2024.txt']['id']}").get_data(as_text=True))
    assert "<h1>Kazakhstan — statement by Murat Nurtleu, Deputy Prime Minister, 79th session" in page
    assert '<a class="chip chip-person" href="/people/murat-nurtleu">Murat Nurtleu</a>, Deputy Prime Minister' in page
    assert "<dt>Date</dt><dd>2024-09</dd>" in page
    assert 'href="/countries/KAZ"' in page and "UN General Debate 2024</a>" in page
    assert "AU  - Murat Nurtleu" in page and "UR  - https://doi.org/10.7910/DVN/0TJX8Y" in page


def test_speaker_page_lists_the_post_and_the_statement(site):
    client, docs = site
    page = html.unescape(client.get("/people/charles-michel").get_data(as_text=True))
    assert "Charles Michel" in page and "President" in page
    assert docs["EU_79_2024.txt"]["id"] in page


def test_collection_facet_on_the_search_page(site):
    client, _ = site
    page = client.get("/search?q=peace").get_data(as_text=True)
    assert "<h3>Collection</h3>" in page and "UN General Debate 2024" in page
    assert 'class="follow" href="/search.atom?q=peace&amp;sort=added"' in page


def test_the_collection_link_of_a_document_page_works(site):
    client, _ = site
    resp = client.get("/search?collection=UN+General+Debate+2024")
    assert resp.status_code == 200 and "UN General Debate 2024" in resp.get_data(as_text=True)
    api = client.get("/api/v1/search?q=peace&collection=UN%20General%20Debate%202024").get_json()
    assert api["total"] > 0 and {f["value"] for f in api["facets"]["collection"]} == {"UN General Debate 2024"}
    assert client.get("/api/v1/search?q=peace&collection=%01x").status_code == 400
