"""Export writers on hand-made hits: RFC 4180 CSV (header first) with formula neutralising, JSONL
one passage a line, provenance in headers/sidecar (inline only when asked), XLSX provenance sheet,
RIS/BibTeX one record per document with page ranges."""
from __future__ import annotations

import csv
import io
import json
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from kb.errors import InvalidInputError
from kb.export import COLUMNS, Provenance, export, filename, neutralise
from kb.search.types import Hit

HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def hit(doc: str, ordinal: int, text: str, *, title: str = "A report", page: int | None = 1,
        page_end: int | None = None, year: int | None = 2012, fmt: str = "pdf") -> Hit:
    return Hit(passage_id=f"{doc}-{ordinal}", doc_id=doc, ordinal=ordinal, title=title,
               path=f"/srv/corpus/{doc}.{fmt}", source_id=None, format=fmt, page_start=page,
               page_end=page_end if page_end is not None else page, heading_path=["Intro", "Part 1"],
               text=text, snippet=text, score=1.5, year=year, lang="en",
               entities={"country": ["KOR", "KAZ"], "topic": ["broadband"]})


PROV = Provenance(query="broadband \"rural areas\"", filters={"country": ["KOR"], "year": ["2012"]},
                  build_id="gen-7")


def run(fmt: str, hits: list[Hit], **kw) -> bytes:
    return b"".join(export(iter(hits), fmt, PROV, **kw))


def test_csv_is_rfc4180_header_first_with_neutralised_formulas():
    hits = [hit("d1", i, t, title=t) for i, t in enumerate(HOSTILE)]
    hits.append(hit("d2", 0, 'quote " and, comma\nnewline', title="Plain title"))
    raw = run("csv", hits)
    assert b"\r\n" in raw and not raw.startswith(b"\xef\xbb\xbf")
    assert raw.startswith(",".join(COLUMNS).encode() + b"\r\n")  # nothing before the header
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == COLUMNS
    body = rows[1:]
    assert len(body) == len(hits)
    text_col, title_col = COLUMNS.index("text"), COLUMNS.index("title")
    for row, original in zip(body, HOSTILE):
        assert row[text_col] == "'" + original
        assert row[title_col] == "'" + original
    # a value with quotes, commas and a newline round-trips exactly
    assert body[-1][text_col] == 'quote " and, comma\nnewline'
    assert body[-1][title_col] == "Plain title"
    assert body[-1][COLUMNS.index("country")] == "KOR; KAZ"
    # no local path leaks: only the file name
    assert body[-1][COLUMNS.index("file")] == "d2.pdf"


def test_csv_bom_for_excel():
    raw = run("csv", [hit("d1", 0, "x")], bom=True)
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\xef\xbb\xbf") == 1
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == COLUMNS and rows[1][COLUMNS.index("text")] == "x"


def test_inline_provenance_only_when_asked():
    raw = run("csv", [hit("d1", 0, "x")], inline=True)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert rows[0][0].startswith("# kb export of query") and "gen-7" in rows[0][0] and "country=KOR" in rows[0][0]
    assert tuple(rows[1]) == COLUMNS
    lines = run("jsonl", [hit("d1", 0, "x")], inline=True).decode("utf-8").splitlines()
    meta = json.loads(lines[0])
    assert meta["type"] == "meta" and meta["query"] == PROV.query and meta["filters"] == PROV.filters
    assert meta["build_id"] == "gen-7" and meta["exported_at"].endswith("+00:00")
    assert json.loads(lines[1])["passage_id"] == "d1-0"


def test_provenance_headers_and_sidecar():
    prov = Provenance(query="gouvernement numérique", filters={"country": ["KOR", "KAZ"]}, build_id="gen-7")
    h = prov.headers()
    for value in h.values():
        value.encode("latin-1")  # HTTP header values must be Latin-1: the query is percent-encoded
    assert unquote(h["X-KB-Query"]) == "gouvernement numérique"
    assert h["X-KB-Filters"] == "country=KOR,KAZ" and h["X-KB-Index-Build"] == "gen-7"
    side = prov.sidecar("csv", rows=3)
    assert side["query"] == prov.query and side["columns"] == list(COLUMNS) and side["rows"] == 3


def test_neutralise_leaves_ordinary_text():
    assert neutralise("Korea") == "Korea"
    assert neutralise("") == ""
    assert neutralise("3-2 track") == "3-2 track"


def test_jsonl_is_one_passage_per_line_same_shape():
    hits = [hit("d1", i, f"passage {i}") for i in range(450)]  # > one chunk
    lines = run("jsonl", hits).decode("utf-8").splitlines()
    rows = [json.loads(x) for x in lines]
    assert len(rows) == 450 and [r["passage_id"] for r in rows] == [h.passage_id for h in hits]
    assert {tuple(r) for r in rows} == {COLUMNS}  # every line the same keys, in the same order
    assert rows[0]["country"] == ["KOR", "KAZ"]


def test_json_is_one_valid_document():
    data = json.loads(run("json", [hit("d1", i, "=x") for i in range(3)]))
    assert data["count"] == 3 and data["meta"]["build_id"] == "gen-7"
    assert data["results"][0]["text"] == "=x"  # JSON is not a spreadsheet: values stay exact


def test_max_rows_caps_only_when_asked():
    hits = [hit("d1", i, "t") for i in range(30)]
    assert len(json.loads(run("json", hits))["results"]) == 30
    assert len(json.loads(run("json", hits, max_rows=7))["results"]) == 7


def test_xlsx_has_results_and_provenance_and_no_formulas(tmp_path):
    hits = [hit("d1", i, t) for i, t in enumerate(HOSTILE + ["bell \x07 char"])]
    path = tmp_path / "out.xlsx"
    path.write_bytes(run("xlsx", hits))
    wb = load_workbook(path)
    assert wb.sheetnames == ["results", "provenance"]
    ws = wb["results"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == COLUMNS and len(rows) == len(hits) + 1
    text_col = COLUMNS.index("text")
    for cells in ws.iter_rows(min_row=2):
        assert cells[text_col].data_type != "f"
    assert rows[1][text_col] == "'" + HOSTILE[0]
    assert rows[-1][text_col] == "bell  char"  # XML-illegal control character dropped
    prov = {r[0]: r[1] for r in wb["provenance"].iter_rows(values_only=True)}
    assert prov["query"] == PROV.query and prov["build_id"] == "gen-7" and prov["rows"] == len(hits)
    assert json.loads(prov["filters"]) == PROV.filters


def test_ris_one_record_per_document_with_page_ranges():
    hits = [hit("d1", 0, "a", page=3), hit("d2", 0, "b", title="Slides", fmt="pptx", page=7),
            hit("d1", 1, "c", page=4, page_end=5), hit("d1", 2, "d", page=9)]
    text = run("ris", hits).decode("utf-8")
    records = [r for r in text.split("ER  - ") if r.strip()]
    assert len(records) == 2
    first = records[0]
    assert "TY  - RPRT" in first and "ID  - d1" in first and "SP  - 3" in first and "EP  - 9" in first
    assert "3 matching passage(s) on pages: 3-5, 9" in first
    assert "broadband" in first and "gen-7" in first
    assert "TY  - SLIDE" in records[1] and "pages: 7" in records[1]


def test_bibtex_escapes_and_names_query():
    hits = [hit("d/1", 0, "a", title="50% of {budgets} & R_D #1", page=2), hit("d/1", 1, "b", page=3)]
    text = run("bibtex", hits).decode("utf-8")
    assert text.startswith("@comment{")
    assert "@techreport{kb:d_1," in text
    assert r"title = {50\% of \{budgets\} \& R\_D \#1}" in text
    assert "pages = {2--3}" in text
    assert "2 matching passage(s) on pages 2-3" in text and "gen-7" in text
    assert text.count("{") == text.count("}") + text.count(r"\}") - text.count(r"\{")


def test_unknown_format_and_safe_filename():
    with pytest.raises(InvalidInputError):
        run("pdf", [])
    assert filename('../../etc/passwd "x"', "csv") == "kb-export-etc-passwd-x.csv"
    assert filename("", "bibtex") == "kb-export-all.bib"
