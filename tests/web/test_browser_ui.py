"""End-to-end in a real headless Chromium (Debian's `chromium`, driven by Playwright):
the new user's path from / to the e-Notary passage, screenshots of every page, keyboard
focus, and XSS payloads checked in the live DOM. Skips when no browser is found."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED
from tests.web.test_ui_pages import LONG_DOC, XSS_DOC, build_home

pytestmark = pytest.mark.browser
ARTIFACTS = REPO / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from werkzeug.serving import make_server

    from web import create_app

    home = tmp_path_factory.mktemp("browserhome")
    egdi = SHARED / "data" / "egov" / "egdi"
    indicators = str(egdi) if egdi.is_dir() else ""
    kb = build_home(home, indicators)
    report = next(d for d in kb.catalog.all_doc_ids() if d not in (XSS_DOC, LONG_DOC))
    kb.close()
    app = create_app({"home": str(home), "indicators": indicators})
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{srv.server_port}", "report": report}
    srv.shutdown()


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium found (install Debian's `chromium`); browser tests skipped")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install '.[test]')")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    external: list[str] = []
    pg.on("request", lambda r: external.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:")) else None)
    pg.errors = errors  # type: ignore[attr-defined]
    pg.external = external  # type: ignore[attr-defined]
    yield pg
    ctx.close()


def _shot(page, name: str, full_page: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"ui-{name}.png"), full_page=full_page)


def test_new_user_finds_the_e_notary_passage(server, page):
    base = server["url"]
    page.goto(base + "/")
    _shot(page, "home")
    page.get_by_label("Search the forum reports").fill("cloud computing")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=cloud+computing")
    assert page.locator("ol.hits > li").count() >= 1
    _shot(page, "search")
    # narrow to Kazakhstan with the country facet
    page.locator("aside.facets a", has_text="Kazakhstan").first.click()
    page.wait_for_url("**country=KAZ**")
    assert page.locator("ul.chips").get_by_text("Kazakhstan").count() == 1
    _shot(page, "search-kazakhstan")
    # open the Kazakhstan page from an entity chip of a hit
    page.locator("ol.hits a.chip-country", has_text="Kazakhstan").first.click()
    page.wait_for_url("**/countries/KAZ")
    _shot(page, "country-kaz")
    passage = page.locator("li.passage", has_text="e-Notary").first
    assert passage.is_visible()
    # open the report at that passage
    passage.locator("a").first.click()
    page.wait_for_url(f"**/documents/{server['report']}#p-*")
    anchor = page.evaluate("location.hash")
    target = page.locator(anchor)
    assert "e-Notary" in target.inner_text()
    assert target.evaluate("el => el.classList.contains('target')")  # app.js marked it
    # scrolled into view: the passage's top is inside the viewport
    page.wait_for_function("id => { const r = document.getElementById(id).getBoundingClientRect();"
                           " return r.top >= 0 && r.top < innerHeight; }", arg=anchor[1:], timeout=5000)
    _shot(page, "document-at-passage", full_page=False)  # what the reader sees on arrival
    assert page.errors == [] and page.external == []


@pytest.mark.parametrize("path,name", [("/countries/", "countries-map"), ("/topics/cloud-computing", "topic"),
                                        ("/entities", "entities"), ("/regions/central-asia", "region"),
                                        ("/countries/XXX", "not-found"), ("/search?q=x&page=-1", "bad-request")])
def test_pages_render_without_errors(server, page, path, name):
    response = page.goto(server["url"] + path)
    _shot(page, name)
    assert page.locator("h1").count() == 1
    expected = {"not-found": 404, "bad-request": 400}.get(name, 200)
    assert response.status == expected
    # the console reports the page's own status; anything else (CSP violations, script
    # errors, missing assets) fails the test
    errors = [e for e in page.errors if f"status of {expected}" not in e]
    assert errors == [], errors
    assert page.external == []


def test_keyboard_reaches_search_with_visible_focus(server, page):
    page.goto(server["url"] + "/search?q=cloud+computing")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert "Skip to content" in focused
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    page.locator("body").click()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"


def test_narrow_screen_layout(server, browser):
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    pg = ctx.new_page()
    pg.goto(server["url"] + "/countries/KAZ")
    width = pg.evaluate("document.documentElement.scrollWidth")
    pg.screenshot(path=str(ARTIFACTS / "ui-country-mobile.png"), full_page=True)
    ctx.close()
    assert width <= 400  # no horizontal scrolling on a phone


@pytest.mark.parametrize("path", [f"/documents/{XSS_DOC}", "/search?q=alert", "/organisations/evil-org",
                                  "/people/evil-person", "/countries/KAZ",
                                  "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%3E%3Cimg+src%3Dx+onerror%3Dalert(2)%3E"])
def test_payloads_create_no_elements_in_the_dom(server, page, path):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server["url"] + path)
    if path.startswith("/documents/"):
        _shot(page, "xss-document")
    scripts = page.evaluate("[...document.scripts].filter(s => !s.src).length")
    imgs = page.evaluate("[...document.querySelectorAll('img')].filter(i => i.getAttribute('src') === 'x').length")
    handlers = page.evaluate("[...document.querySelectorAll('*')].filter(e => e.hasAttribute('onerror')).length")
    assert (scripts, imgs, handlers, dialogs) == (0, 0, 0, [])
    if path.startswith(("/documents/", "/organisations/", "/people/")):
        assert "<script>alert(1)</script>" in page.locator("body").inner_text()  # shown as text
