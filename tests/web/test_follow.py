"""Following a search: sort=added, the Atom feed's <updated>, and saved searches through the
UI and the API. Real KB homes built by the real pipeline from UNGD speeches of corpus/; the
feed-order test runs `kb serve` (gunicorn) on a free loopback port and ingests while it runs."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from indexer.library import ingest, reindex
from kb import auth, saved
from kb.facade import KB
from tests.conftest import CORPUS, REPO

UNGD = CORPUS / "ungd-2024"
ATOM = "{http://www.w3.org/2005/Atom}"


def _speeches(folder: Path, *codes: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for code in codes:
        shutil.copy(UNGD / f"{code}_79_2024.txt", folder)
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("follow")
    home = base / "home"
    with KB({"home": str(home)}) as kb:
        ingest([_speeches(base / "a", "KAZ", "EST")], kb, workers=1)
        _, token = auth.create_token(kb.catalog, "curator-one")
    from web import create_app

    app = create_app({"home": str(home), "TESTING": True})
    return {"client": app.test_client(), "token": token, "home": home, "base": base}


def test_api_saved_searches_list_create_delete(site):
    client, headers = site["client"], {"Authorization": f"Bearer {site['token']}"}
    assert client.get("/api/v1/saved-searches").get_json() == {"saved_searches": []}
    body = {"name": "Digital in Central Asia", "q": "digital", "filters": {"country": ["KAZ"]}}
    assert client.post("/api/v1/saved-searches", json=body).status_code == 401  # writes need a token
    r = client.post("/api/v1/saved-searches", json=body, headers=headers)
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["created_by"] == "curator-one" and r.headers["Location"] == f"/api/v1/saved-searches/{made['id']}"
    assert made["links"]["feed"] == "/search.atom?q=digital&country=KAZ&sort=added"
    for bad, why, status in [({"q": "x"}, "needs a name", 400), ({"name": " "}, "needs a name", 400),
                             ({"name": "n", "q": "x", "filters": {"colour": ["red"]}}, "unknown filter 'colour'", 400),
                             (body, "exists", 409)]:
        r = client.post("/api/v1/saved-searches", json=bad, headers=headers)
        assert r.status_code == status and why in r.get_json(force=True)["detail"]
    # Neither query nor filter follows everything that is added.
    everything = client.post("/api/v1/saved-searches", json={"name": "Everything new"}, headers=headers)
    assert everything.status_code == 201 and everything.get_json()["links"]["feed"] == "/search.atom?sort=added"
    assert client.delete(f"/api/v1/saved-searches/{everything.get_json()['id']}", headers=headers).status_code == 200
    (listed,) = client.get("/api/v1/saved-searches").get_json()["saved_searches"]
    # everything here was ingested minutes ago: every matching passage counts as recent
    total = client.get("/api/v1/search?q=digital&country=KAZ").get_json()["total"]
    assert listed["recent"] == total > 0 and listed["recent_days"] == 30
    feed = client.get(listed["links"]["feed"])
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    assert client.get(listed["links"]["export_csv"]).status_code == 200
    assert client.delete(f"/api/v1/saved-searches/{made['id']}").status_code == 401
    assert client.delete(f"/api/v1/saved-searches/{made['id']}", headers=headers).get_json()["name"] == body["name"]
    assert client.delete(f"/api/v1/saved-searches/{made['id']}", headers=headers).status_code == 404
    # an id past SQLite's INTEGER (found by the schema fuzzing): 404, not a 500
    assert client.delete(f"/api/v1/saved-searches/{2**70}", headers=headers).status_code == 404
    assert client.get("/api/v1/saved-searches").get_json() == {"saved_searches": []}


def test_recent_counts_only_the_last_30_days(site):
    from datetime import UTC, datetime, timedelta

    with KB({"home": str(site["home"])}) as kb:
        s = saved.create(kb.catalog, "peace window", "peace", {}, None)
        try:
            now = saved.recent_count(kb, s)
            assert now > 0
            assert saved.recent_count(kb, s, now=datetime.now(UTC) + timedelta(days=31)) == 0
        finally:
            saved.delete(kb.catalog, s.id)


def test_ui_curator_saves_and_deletes_a_search_listed_on_the_home_page(site):
    client = site["client"]
    page = client.get("/search?q=peace&country=EST").get_data(as_text=True)
    assert 'class="follow" href="/search.atom?q=peace&amp;country=EST&amp;sort=added"' in page
    assert 'action="/saved-searches"' not in page  # not signed in: no save form
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/curate/signin").get_data(as_text=True)).group(1)
    assert client.post("/saved-searches", data={"csrf": csrf, "name": "x", "q": "peace"}).status_code == 401
    client.post("/curate/signin", data={"csrf": csrf, "token": site["token"], "next": "/"})
    page = client.get("/search?q=peace&country=EST").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert 'action="/saved-searches"' in page and '<input type="hidden" name="country" value="EST">' in page
    r = client.post("/saved-searches", data={"csrf": csrf, "name": "Peace in Estonia", "q": "peace",
                                             "country": "EST"})
    assert r.status_code == 303 and r.headers["Location"].startswith("/?saved=")
    home = client.get("/").get_data(as_text=True)
    row = re.search(r'<tr><td><a href="(/search\?[^"]+)">Peace in Estonia</a></td>\s*<td class="num">(\d+)</td>', home)
    assert row and row.group(1) == "/search?q=peace&amp;country=EST"
    assert int(row.group(2)) > 0
    assert 'href="/search.atom?q=peace&amp;country=EST&amp;sort=added">Atom feed</a>' in home
    sid = re.search(r'action="/saved-searches/(\d+)/delete"', home).group(1)
    assert client.post(f"/saved-searches/{sid}/delete", data={"csrf": "forged"}).status_code == 401
    assert client.post(f"/saved-searches/{sid}/delete", data={"csrf": csrf}).status_code == 303
    assert "Peace in Estonia" not in client.get("/").get_data(as_text=True)
    client.post("/curate/signout", data={"csrf": csrf})


def test_saved_searches_survive_reindex(site):
    with KB({"home": str(site["home"])}) as kb:
        s = saved.create(kb.catalog, "kept", "digital", {"country": ["KAZ"]}, "curator-one")
        reindex(kb)
        assert [x.name for x in saved.list_all(kb.catalog)] == ["kept"]
        saved.delete(kb.catalog, s.id)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _feed(port: int, query: str) -> list[dict[str, str]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/search.atom?{query}", timeout=30) as r:
        root = ET.fromstring(r.read())
    return [{"title": e.findtext(ATOM + "title"), "updated": e.findtext(ATOM + "updated")}
            for e in root.iter(ATOM + "entry")]


@pytest.mark.slow
def test_a_document_ingested_while_the_server_runs_comes_first_in_the_added_feed(tmp_path):
    home = tmp_path / "home"
    first = _speeches(tmp_path / "first", "KAZ", "EST", "BRA")
    env = {**os.environ, "KB_HOME": str(home)}
    kb_cmd = [sys.executable, "-m", "kb"]
    run = subprocess.run(kb_cmd + ["ingest", "--workers", "1", str(first)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-1500:]
    port = _free_port()
    server = subprocess.Popen(kb_cmd + ["serve", "--port", str(port), "--workers", "1", "--threads", "2"],
                              env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                before = _feed(port, "q=digital&sort=added")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError("kb serve did not come up") from None
                time.sleep(0.3)
        assert before and all(e["updated"] for e in before)
        time.sleep(1.1)  # ingest times have one-second resolution
        late = tmp_path / "late"
        late.mkdir()
        (late / "late-news.md").write_text(
            "# Late news\n\nA digital public infrastructure plan was adopted in Ruritania this week.\n",
            encoding="utf-8")
        run = subprocess.run(kb_cmd + ["ingest", "--workers", "1", str(late)], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=300, check=False)
        assert run.returncode == 0, run.stderr[-1500:]
        after = _feed(port, "q=digital&sort=added")
        assert after[0]["title"].startswith("Late news")
        assert after[0]["updated"] > max(e["updated"] for e in before)
        assert [e["updated"] for e in after] == sorted((e["updated"] for e in after), reverse=True)
        relevance = _feed(port, "q=digital")
        assert any(e["title"].startswith("Late news") for e in relevance)  # the same search, by relevance
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_cli_search_sort_added(site, tmp_path):
    env = {**os.environ, "KB_HOME": str(site["home"])}
    out = subprocess.run([sys.executable, "-m", "kb", "search", "peace", "--sort", "added", "--format", "json"],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=True).stdout
    hits = json.loads(out)["results"]
    # The CLI groups at most 3 passages of a document before any document's next 3, so the
    # order holds for each document's first appearance (ingest times may straddle a second).
    first: dict[str, str] = {}
    for h in hits:
        first.setdefault(h["doc_id"], h["added"])
    added = list(first.values())
    assert added and added == sorted(added, reverse=True)
