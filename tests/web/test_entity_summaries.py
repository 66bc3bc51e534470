"""The country, organisation, person, topic and region pages read the entity summaries
(kb.summary); their data must equal what grouping the mentions gave before
(tests/web/legacy_pages.py), on the corpus report plus generated documents ingested with the real
pipeline and tagger, and must stay equal after re-ingest, deletion through the API and
curation (kb entities merge / alias / reject). The last checks go through the pages, with
the page cache left warm: a changed catalog must show at once."""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from indexer.library import ingest
from kb import auth, dossier, queries, summary
from kb.errors import NotFoundError
from kb.facade import KB
from tests.conftest import CORPUS
from web.cli import main as kb_main

REPORT = CORPUS / "forum-2012-final-report.md"
from tests.web.legacy_pages import entity_types, legacy
from web import create_app

# Passages for the generated documents: every type of entity, shared across passages and
# documents; "António" and "Antonio" give one person two stored names.
SENTENCES = (
    "H.E. Mr. António Guterres spoke with Kazakhstan and Estonia about open data.",
    "Mr. Antonio Guterres met UNDESA and the World Bank on e-procurement in Kenya.",
    "The Republic of Korea presented digital identity and broadband work with the ITU.",
    "Kazakhstan built an e-procurement portal; UNDESA reviewed it with Estonia.",
    "Cloud computing and cybersecurity in Asia were discussed by the World Bank.",
    "Brazil and Kenya shared open data portals and broadband plans for Africa.",
    "The ITU and UNDESA wrote on cybersecurity for Estonia and the Republic of Korea.",
    "Digital identity in Brazil relies on cloud computing, said António Guterres.",
    "Tax offices in Kenya moved to e-procurement and digital identity.",
    "Telecom Union staff from Kazakhstan trained officials on open data.",
)
TITLES = ("Forum notes", "Country papers", "forum NOTES", "Workshop")  # repeated titles: ties broken by id


def _generate(folder: Path, n: int = 14) -> list[Path]:
    rnd = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        year = 2010 + rnd.randrange(6)
        paras = [" ".join(rnd.sample(SENTENCES, 2)) for _ in range(rnd.randrange(3, 9))]
        path = folder / f"generated-{i:02d}-{year}.md"
        path.write_text(f"# {TITLES[i % len(TITLES)]}\n\n" + "\n\n".join(paras) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def _page(kb: KB, type_: str, entity_id: str) -> object:
    try:
        if type_ == "region":
            return dossier.region_page(kb, entity_id)
        if type_ == "country":
            return dossier.country_dossier(kb, entity_id)
        return dossier.entity_page(kb, type_, entity_id)
    except NotFoundError as exc:
        return f"not found: {exc}"


def _entities(kb: KB) -> list[tuple[str, str]]:
    with legacy():
        found = {(r["type"], r["entity_id"]) for r in kb.catalog.entity_counts()}
        regions = {("region", r["id"]) for r in dossier.regions(kb)}
    return sorted(found | regions)


def assert_summaries_match(kb: KB, first_docs: int | None = None) -> int:
    """Stored summaries equal a recount from the mentions, and every entity page, the
    country index, the entity index and the figures equal the legacy computation."""
    db = kb.catalog.db
    assert summary.stored(db) == summary.compute(db)
    pages = 0
    with pytest.MonkeyPatch.context() as mp:
        if first_docs is not None:  # documents opened per step: 1 crosses every step boundary
            mp.setattr(queries.Neighbourhood, "FIRST_DOCS", first_docs)
        for type_, entity_id in _entities(kb):
            queries._CACHE.clear()
            new = _page(kb, type_, entity_id)
            with legacy():
                old = _page(kb, type_, entity_id)
            assert new == old, (type_, entity_id)
            pages += 1
    queries._CACHE.clear()
    new = (dossier.country_index(kb), dossier.entity_index(kb), dossier.regions(kb))
    with legacy():
        old = (dossier.country_index(kb), dossier.entity_index(kb), dossier.regions(kb))
        types = entity_types(kb.catalog)
    assert new == old
    figures = dossier.corpus_figures(kb)
    assert (figures["countries"], figures["organisations"], figures["people"], figures["topics"]) == (
        types.get("country", 0), types.get("org", 0), types.get("person", 0), types.get("topic", 0))
    return pages


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    base = tmp_path_factory.mktemp("summaries")
    files = base / "files"
    _generate(files)
    with KB({"home": str(base / "home")}) as kb:
        ingest([REPORT, files], kb, workers=1)
    return {"home": base / "home", "files": files}


def test_pages_equal_the_legacy_queries_after_ingest(home):
    with KB({"home": str(home["home"])}) as kb:
        names = {r[0] for r in kb.catalog.db.execute(
            "SELECT name FROM entity_names WHERE type = 'person' AND entity_id = 'antonio-guterres'")}
        assert names == {"António Guterres", "Antonio Guterres"}  # the two-name path is exercised
        kaz = dossier.country_dossier(kb, "KAZ")
        assert kaz["practices"] and kaz["organisations"] and kaz["passages"] and kaz["timeline"]
        assert "antonio-guterres" in {p["id"] for p in kaz["people"]}
        assert assert_summaries_match(kb) > 30
        assert_summaries_match(kb, first_docs=1)


def test_re_ingest_and_prune_keep_the_summaries_exact(home):
    files = home["files"]
    changed = sorted(files.glob("generated-0[0-3]-*.md"))
    for path in changed[:2]:  # edited: the old document goes, the new one comes
        path.write_text(path.read_text(encoding="utf-8").replace("Kazakhstan", "Brazil"), encoding="utf-8")
    changed[2].unlink()  # gone from the folder: pruned
    with KB({"home": str(home["home"])}) as kb:
        before = queries.entity_totals(kb.catalog, "country", "KAZ")
        result = ingest([REPORT, files], kb, workers=1, prune=True)
        assert result["updated"] + result["added"] >= 2 and result["pruned"] == 1
        assert queries.entity_totals(kb.catalog, "country", "KAZ")["passages"] < before["passages"]
        ingest([files], kb, workers=1, force=True)  # every document re-written in place
        assert_summaries_match(kb)


def test_delete_through_the_api_shows_at_once(home):
    with KB({"home": str(home["home"])}) as kb:
        docs = queries.documents_for(kb.catalog, "country", "EST")
        _, token = auth.create_token(kb.catalog, "summaries")
    victim = docs[0]
    client = create_app({"home": str(home["home"])}).test_client()
    page = client.get("/countries/EST")
    assert page.status_code == 200 and f"/documents/{victim['id']}".encode() in page.data
    resp = client.delete(f"/api/v1/documents/{victim['id']}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    # the page cache was filled by the first visit and is not emptied here
    page = client.get("/countries/EST")
    assert page.status_code == 200 and f"/documents/{victim['id']}".encode() not in page.data
    with KB({"home": str(home["home"])}) as kb:
        assert victim["id"] not in {d["id"] for d in queries.documents_for(kb.catalog, "country", "EST")}
        assert_summaries_match(kb)


def test_curation_merge_alias_reject(home, tmp_path):
    h = str(home["home"])
    client = create_app({"home": h}).test_client()
    assert b"World Bank" in client.get("/organisations/undesa").data  # a co-mentioned organisation
    assert kb_main(["--home", h, "entities", "merge", "org:world-bank", "org:undesa"]) == 0
    assert kb_main(["--home", h, "entities", "alias", "org:itu", "Telecom Union"]) == 0
    assert kb_main(["--home", h, "entities", "reject", "country:BRA"]) == 0
    with KB({"home": h}) as kb:
        cat = kb.catalog
        assert queries.entity_totals(cat, "org", "world-bank")["mentions"] == 0
        assert queries.entity_totals(cat, "country", "BRA")["mentions"] == 0
        itu = [m for m in cat.mentions() if m["entity_id"] == "itu" and m["text"] == "Telecom Union"]
        assert itu
        assert_summaries_match(kb)
    # the pages, cache still warm from the visit above, show the curated catalog
    page = client.get("/organisations/undesa").data
    assert b"/organisations/world-bank" not in page
    assert client.get("/countries/BRA").status_code == 404  # rejected: no page any more
    moved = client.get("/organisations/world-bank")  # merged: its page is the target's
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/organisations/undesa")
    assert b"/countries/BRA" not in client.get("/organisations/undesa").data


def test_reindex_rebuilds_the_summaries(home, tmp_path):
    home_copy = tmp_path / "home"
    shutil.copytree(home["home"], home_copy)
    with KB({"home": str(home_copy)}) as kb:
        want = summary.stored(kb.catalog.db)
        kb.catalog.db.execute("DELETE FROM entity_pairs")
    assert kb_main(["--home", str(home_copy), "reindex"]) == 0
    with KB({"home": str(home_copy)}) as kb:
        assert summary.stored(kb.catalog.db) == want
