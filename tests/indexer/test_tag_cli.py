"""`kb tag` and `kb entities` (list, alias, merge, reject) end to end on a real catalog."""
from __future__ import annotations

import io
import json

import pytest

from indexer.documents import merge_person
from indexer.tag import Tagger
from kb.entities import load_registry
from kb.model import Document, Passage
from kb.store import Catalog
from tests.conftest import CORPUS
from web.cli import main

DOC = [
    "Mr. Tikhomirov from UNPOG presented the survey with Korea and Japan.",
    "Ms. Haiyan Qian (Director of UNDESA) spoke about open data in the Republic of Korea.",
    "The Seoul office works with the Korean government.",
]


@pytest.fixture
def home(kb_home, monkeypatch):
    """A catalog holding one tagged document, as ingest would leave it."""
    monkeypatch.setenv("KB_HOME", str(kb_home))
    cat = Catalog(kb_home / "catalog.sqlite")
    passages = [Passage("doc1", i, t) for i, t in enumerate(DOC)]
    tagger = Tagger(load_registry(cat.curation()), model="")
    mentions = tagger.tag_passages(passages, "en")
    with cat.transaction():
        cat.put_document(Document("doc1", "txt", sha256="x" * 64, title="t"), passages, mentions)
        for p in tagger.people_of(mentions):
            merge_person(cat, p, "doc1", None, "t")  # as ingest stores them
    cat.close()
    return kb_home


def _mentions(home):
    cat = Catalog(home / "catalog.sqlite")
    try:
        return [(m["type"], m["entity_id"], m["text"]) for m in cat.mentions("doc1")]
    finally:
        cat.close()


def test_tag_file_json(capsys):
    path = CORPUS / "forum-2012-final-report.md"
    assert main(["tag", str(path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    text = path.read_text(encoding="utf-8")
    assert {"type", "id", "name", "text", "start", "end", "passage"} == set(rows[0])
    assert all(text[r["start"]:r["end"]] == r["text"] and r["passage"] is None for r in rows)
    assert {r["id"] for r in rows if r["type"] == "country"} >= {"KOR", "PAN", "KAZ"}


def test_tag_stdin_jsonl(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("La Corée et le Mexique."))
    assert main(["tag", "-", "--lang", "fr"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["text"], r["start"]) for r in rows] == [("KOR", "Corée", 3), ("MEX", "Mexique", 15)]


def test_tag_missing_file(capsys):
    assert main(["tag", "no/such/file.txt"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_entities_list(home, capsys):
    assert main(["entities", "--format", "json"]) == 0
    rows = {(r["type"], r["id"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("country", "KOR")]["mentions"] == 3 and rows[("country", "KOR")]["documents"] == 1
    assert rows[("org", "unpog")]["parent"] == "undesa"
    assert rows[("person", "haiyan-qian")]["affiliations"] == [
        {"id": "undesa", "name": "United Nations Department of Economic and Social Affairs"}]
    assert main(["entities", "--type", "person"]) == 0
    table = capsys.readouterr().out
    assert "AFFILIATIONS" in table and "alexei" not in table and "tikhomirov" in table


def test_curation_changes_tagging(home, capsys):
    assert ("org", "unpog", "UNPOG") in _mentions(home)
    assert main(["entities", "alias", "org:undesa", "Seoul office"]) == 0
    out = capsys.readouterr().out
    assert "re-tagged 1 documents" in out and "kb reindex" not in out  # done, not a promise
    assert ("org", "undesa", "Seoul office") in _mentions(home)
    assert main(["search", "--org", "undesa", "Seoul office", "--format", "json"]) == 0  # the index followed
    assert json.loads(capsys.readouterr().out)["total"] >= 1

    assert main(["entities", "merge", "unpog", "undesa"]) == 0
    got = _mentions(home)
    assert ("org", "undesa", "UNPOG") in got and not [m for m in got if m[1] == "unpog"]

    assert main(["entities", "reject", "Korean"]) == 0  # a surface text
    assert main(["entities", "reject", "country:JPN"]) == 0  # an entity id
    got = _mentions(home)
    assert ("country", "KOR", "Korean") not in got and ("country", "KOR", "Korea") in got
    assert not [m for m in got if m[1] == "JPN"]

    assert main(["entities", "merge", "tikhomirov", "haiyan-qian"]) == 0  # people too
    assert [m[1] for m in _mentions(home) if m[0] == "person"] == ["haiyan-qian", "haiyan-qian"]

    # `kb entities retag`: every document re-tagged with the stored curation, nothing changes
    before = _mentions(home)
    capsys.readouterr()
    assert main(["entities", "retag"]) == 0
    assert "retag: re-tagged 1 documents" in capsys.readouterr().out and _mentions(home) == before

    # a new tagger (as a re-ingest makes) reads the stored curation
    again = {(m.type, m.id) for m in Tagger(model="").tag("UNPOG met Japan.")}
    assert again == {("org", "undesa")}


def test_curation_bad_input(home, capsys):
    assert main(["entities", "merge", "country:KOR", "org:undesa"]) == 2
    assert main(["entities", "alias", "nobody-known", "x"]) == 2
    assert "unknown entity" in capsys.readouterr().err
