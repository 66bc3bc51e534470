"""Metadata sidecars (indexer.sidecar) through the real ingest pipeline: metadata.csv,
metadata.jsonl and FILE.meta.json on real speech files from corpus/ungd-2024; bad rows;
re-applying a changed sidecar without re-extraction; exports and citations."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from indexer.library import ingest
from indexer.sidecar import SidecarError, parse_entry, read_folder_table
from kb.dossier import citation
from kb.facade import KB
from tests.conftest import CORPUS, REPO

UNGD = CORPUS / "ungd-2024"
HEADER = "file,title,date,authors,country,collection,source_url,tags\n"


@pytest.fixture
def kb(kb_home):
    with KB({"home": str(kb_home)}) as k:
        yield k


def _speeches(folder, *codes):
    folder.mkdir(parents=True, exist_ok=True)
    for code in codes:
        shutil.copy(UNGD / f"{code}_79_2024.txt", folder)
    return folder


def _doc(kb, filename):
    (doc,) = [d for d in kb.catalog.list_documents(limit=1000) if d["metadata"].get("filename") == filename]
    return doc


def test_csv_sidecar_titles_dates_and_makes_the_speaker_a_person(kb, tmp_path):
    folder = _speeches(tmp_path / "in", "KAZ", "BRA")
    (folder / "metadata.csv").write_text(HEADER + (
        'KAZ_79_2024.txt,"Kazakhstan — statement by Murat Nurtleu",2024-09-24,'
        "Murat Nurtleu | speaker | Deputy Prime Minister,KAZ,UNGD 2024,https://example.org/kaz,debate; 2024\n"),
        encoding="utf-8")
    s = ingest([folder], kb, workers=1)
    assert (s["added"], s["failed"]) == (2, 0)  # the sidecar itself is no document
    assert kb.catalog.count_documents() == 2
    kaz = _doc(kb, "KAZ_79_2024.txt")
    assert kaz["title"] == "Kazakhstan — statement by Murat Nurtleu" and kaz["year"] == 2024
    md = kaz["metadata"]
    assert (md["date"], md["country"], md["collection"], md["source_url"]) == (
        "2024-09-24", "KAZ", "UNGD 2024", "https://example.org/kaz")
    assert md["authors"] == ["Murat Nurtleu"] and md["tags"] == ["debate", "2024"]
    person = kb.catalog.get_person("murat-nurtleu")
    assert person["titles"] == ["Deputy Prime Minister"] and person["country"] == "KAZ"
    assert person["appearances"][0]["doc_id"] == kaz["id"]
    (m,) = [m for m in kb.catalog.mentions(kaz["id"]) if m["type"] == "person" and m["source"] == "metadata"]
    passage = kb.catalog.passage(m["passage_id"])
    assert passage["text"][m["start"]:m["end"]] == "Murat Nurtleu"  # real offsets, highlightable
    # the file without a row keeps what extraction found
    assert _doc(kb, "BRA_79_2024.txt")["title"] == "BRA_79_2024"
    # collection is a facet and a filter
    from kb.search.types import SearchRequest

    res = kb.search(SearchRequest(q="Nurtleu", filters={"collection": ["UNGD 2024"]}))
    assert res.total >= 1 and {h.doc_id for h in res.hits} == {kaz["id"]}
    assert dict(res.facets["collection"]) == {"UNGD 2024": res.total}


def test_bad_rows_fail_with_their_row_and_lose_nothing_else(kb, tmp_path):
    folder = _speeches(tmp_path / "in", "KAZ", "BRA", "FRA")
    (folder / "metadata.csv").write_text(HEADER + (
        "KAZ_79_2024.txt,Kazakhstan,2024-13-01,,,,,\n"
        "BRA_79_2024.txt,Brazil,2024,,BRZ,,,\n"
        "FRA_79_2024.txt,France — statement,2024-09,,FRA,,,\n"
        "ZZZ_79_2024.txt,Missing,2024,,,,,\n"), encoding="utf-8")
    s = ingest([folder], kb, workers=1)
    assert s["added"] == 3  # every speech is ingested, bad row or not
    reasons = {f["path"].rsplit("/", 1)[-1]: f["reason"] for f in s["failures"]}
    assert reasons == {
        "metadata.csv#row 2": "metadata.csv row 2: date '2024-13-01' is not YYYY, YYYY-MM or YYYY-MM-DD",
        "metadata.csv#row 3": "metadata.csv row 3: country 'BRZ' is not an ISO 3166 alpha-3 code (e.g. KAZ)",
    }
    assert any("no file 'ZZZ_79_2024.txt'" in w for w in s["warnings"])
    assert _doc(kb, "FRA_79_2024.txt")["title"] == "France — statement"
    assert _doc(kb, "KAZ_79_2024.txt")["title"] == "KAZ_79_2024"  # its row was refused
    assert len(kb.catalog.failures()) == 2
    # fixed rows clear their failures and are applied on the next run, from the cache
    (folder / "metadata.csv").write_text(HEADER + "KAZ_79_2024.txt,Kazakhstan,2024-09,,KAZ,,,\n"
                                         "BRA_79_2024.txt,Brazil,2024,,BRA,,,\n", encoding="utf-8")
    s = ingest([folder], kb, workers=1)
    assert (s["failed"], s["updated"], s["from_cache"]) == (0, 3, 3)  # FRA lost its row
    assert kb.catalog.failures() == []
    assert _doc(kb, "KAZ_79_2024.txt")["title"] == "Kazakhstan"
    assert _doc(kb, "FRA_79_2024.txt")["title"] == "FRA_79_2024"


def test_jsonl_sidecar_and_meta_json_beside_the_file_win_in_that_order(kb, tmp_path):
    folder = _speeches(tmp_path / "in" / "speeches", "KAZ", "BRA")
    (folder.parent / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"file": "speeches/KAZ_79_2024.txt", "title": "From the parent folder", "collection": "UNGD",
         "authors": [{"name": "Murat Nurtleu", "role": "speaker", "post": "Deputy Prime Minister"}]},
        {"file": "BRA_79_2024.txt", "title": "Brazil by file name", "language": "pt"},
    ]) + "\nnot json\n", encoding="utf-8")
    (folder / "KAZ_79_2024.txt.meta.json").write_text(json.dumps(
        {"title": "Beside the file", "date": "2024"}), encoding="utf-8")
    s = ingest([folder.parent], kb, workers=1)
    assert s["added"] == 2
    assert [f["reason"] for f in s["failures"]] == ["metadata.jsonl line 3: not JSON (Expecting value)"]
    kaz = _doc(kb, "KAZ_79_2024.txt")
    assert kaz["title"] == "Beside the file" and kaz["metadata"]["collection"] == "UNGD"  # merged
    assert kaz["metadata"]["date"] == "2024" and kaz["metadata"]["authors"] == ["Murat Nurtleu"]
    bra = _doc(kb, "BRA_79_2024.txt")
    assert bra["title"] == "Brazil by file name" and bra["language"] == "pt"
    # unchanged sidecars: nothing to do
    s = ingest([folder.parent], kb, workers=1)
    assert (s["unchanged"], s["updated"], s["added"]) == (2, 0, 0)


def test_an_unknown_csv_column_is_one_failure_and_the_other_columns_apply(kb, tmp_path):
    folder = _speeches(tmp_path / "in", "KAZ", "BRA")
    (folder / "metadata.csv").write_text("file,title,notes\nKAZ_79_2024.txt,Kazakhstan,x\n"
                                         "BRA_79_2024.txt,Brazil,y\n", encoding="utf-8")
    s = ingest([folder], kb, workers=1)
    assert s["added"] == 2
    (f,) = s["failures"]
    assert f["path"].endswith("metadata.csv#header") and f["reason"].startswith(
        "metadata.csv header: unknown column 'notes' ignored (known: file, title, date")
    assert {_doc(kb, n)["title"] for n in ("KAZ_79_2024.txt", "BRA_79_2024.txt")} == {"Kazakhstan", "Brazil"}


def test_a_broken_meta_json_is_one_failure_and_the_file_is_still_ingested(kb, tmp_path):
    folder = _speeches(tmp_path / "in", "KAZ")
    (folder / "KAZ_79_2024.txt.meta.json").write_text('{"title": "x", "colour": "red"}', encoding="utf-8")
    s = ingest([folder], kb, workers=1)
    assert s["added"] == 1
    assert [f["reason"] for f in s["failures"]] == [
        ("KAZ_79_2024.txt.meta.json: unknown field 'colour' (known: file, title, date, authors, country, "
         "collection, source_url, language, tags, map)")]


@pytest.mark.parametrize("entry, message", [
    ({"date": "24/09/2024"}, "date '24/09/2024' is not YYYY, YYYY-MM or YYYY-MM-DD"),
    ({"date": "1850"}, "date '1850' is outside 1900-2100"),
    ({"source_url": "javascript:alert(1)"}, "source_url 'javascript:alert(1)' is not an http(s) address"),
    ({"language": "English"}, "language 'English' is not a language code (e.g. en, fr, pt-BR)"),
    ({"authors": [{"role": "speaker"}]}, "every author needs a name"),
    ({"authors": [{"name": "A", "rank": "x"}]}, "unknown author field 'rank'"),
    ({"map": "body=abstract"}, "map entry body='abstract' must be TARGET=COLUMN"),
    ({"title": "x" * 501}, "title is longer than 500 characters"),
])
def test_entry_validation_names_the_row_and_the_field(entry, message):
    with pytest.raises(SidecarError) as err:
        parse_entry(entry, "metadata.csv row 7")
    assert str(err.value).startswith("metadata.csv row 7: " + message)
    assert "\n" not in str(err.value)


def test_exports_and_citations_carry_authors_year_and_url(kb, tmp_path):
    folder = _speeches(tmp_path / "in", "KAZ")
    (folder / "metadata.csv").write_text(HEADER + (
        "KAZ_79_2024.txt,Kazakhstan statement,2024-09,Murat Nurtleu | speaker | Deputy Prime Minister; "
        "Jane Roe,KAZ,UNGD 2024,https://example.org/kaz,\n"), encoding="utf-8")
    ingest([folder], kb, workers=1)
    home = str(kb.home)
    run = lambda fmt: subprocess.run(
        [sys.executable, "-m", "kb", "--home", home, "export", "Kazakhstan", "--format", fmt],
        capture_output=True, text=True, check=True, cwd=REPO).stdout
    ris = run("ris")
    assert "AU  - Murat Nurtleu" in ris and "AU  - Jane Roe" in ris
    assert "PY  - 2024" in ris and "UR  - https://example.org/kaz" in ris
    bib = run("bibtex")
    assert "author = {Murat Nurtleu and Jane Roe}" in bib and "year = {2024}" in bib
    assert "url = {https://example.org/kaz}" in bib
    rows = [json.loads(line) for line in run("jsonl").splitlines()][1:]
    assert rows and all(r["authors"] == ["Murat Nurtleu", "Jane Roe"] and r["collection"] == "UNGD 2024"
                        for r in rows)
    cite = citation(_doc(kb, "KAZ_79_2024.txt") | {"paths": []}, "http://127.0.0.1/d")
    assert "UR  - https://example.org/kaz" in cite["ris"] and "url = {https://example.org/kaz}" in cite["bibtex"]


def test_the_shipped_ungd_sidecar_covers_every_speech_and_validates():
    table, errors = read_folder_table(UNGD / "metadata.csv")
    assert errors == []
    speeches = {p.name for p in UNGD.glob("*.txt")}
    assert len(speeches) == 192 and set(table) == speeches
    kaz, _ = table["KAZ_79_2024.txt"]
    assert kaz.title.startswith("Kazakhstan — statement by ") and kaz.title.endswith(
        ", 79th session of the UN General Assembly general debate (2024)")
    assert kaz.country == "KAZ" and kaz.authors[0].role == "speaker" and kaz.authors[0].post
    eu, _ = table["EU_79_2024.txt"]  # the European Union: an organisation, not a country
    assert eu.country is None and eu.authors[0].affiliation == "European Union"
    assert eu.title.startswith("European Union — statement by ")


def test_the_ungd_script_rebuilds_the_committed_sidecar(shared, tmp_path):
    xlsx = shared / "texts" / "ungd-2024" / "Speakers_by_session.xlsx"
    if not xlsx.is_file():
        pytest.skip(f"no speakers list at {xlsx}")
    speeches = tmp_path / "speeches"
    shutil.copytree(UNGD, speeches)
    (speeches / "metadata.csv").unlink()
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "ungd_metadata.py"), str(xlsx),
                          "--speeches", str(speeches)], capture_output=True, text=True, check=True).stdout
    assert "DMA (Dominica): in the speakers list, no speech file" in out
    assert (speeches / "metadata.csv").read_bytes() == (UNGD / "metadata.csv").read_bytes()


def test_sidecar_authors_survive_a_retag(kb, tmp_path):
    """`kb entities retag` re-runs the tagger on the stored passages: the speaker a sidecar
    names stays a person mention (source "metadata") with the post as the appearance's role."""
    from indexer.library.curation import retag

    folder = _speeches(tmp_path / "in", "KAZ")
    (folder / "metadata.csv").write_text(HEADER + (
        'KAZ_79_2024.txt,"Kazakhstan statement",2024-09-24,'
        "Murat Nurtleu | speaker | Deputy Prime Minister,KAZ,UNGD 2024,,\n"), encoding="utf-8")
    ingest([folder], kb, workers=1)
    kaz = _doc(kb, "KAZ_79_2024.txt")

    def state():
        metadata = sorted((m["passage_id"], m["start"], m["end"]) for m in kb.catalog.mentions(kaz["id"])
                          if m["type"] == "person" and m["source"] == "metadata")
        person = kb.catalog.get_person("murat-nurtleu")
        return metadata, person["titles"], person["country"], person["appearances"]

    before = state()
    assert before[0] and before[3][0]["roles"] == ["Deputy Prime Minister"]
    assert retag(kb, [kaz["id"]]) == {"documents": 1, "passages": len(kb.catalog.passages(kaz["id"]))}
    assert state() == before
    from kb.search.types import SearchRequest

    res = kb.search(SearchRequest(q="", filters={"person": ["murat-nurtleu"]}))
    assert res.total >= 1 and {h.doc_id for h in res.hits} == {kaz["id"]}
