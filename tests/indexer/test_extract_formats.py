"""Extractors on files generated here (no ../shared needed): DOCX, PPTX, XLSX, HTML, Markdown,
a hand-built PDF, record collections, sniffing, zip bombs, stream input."""
from __future__ import annotations

import importlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from indexer.extract import (
    EXTRACTOR_VERSION,
    extract,
    extract_records,
    is_record_collection,
    parser_errors,
    sniff,
)
from kb.errors import EncryptedError, ExtractionError, ResourceLimitError, UnsupportedFormatError

REPO = Path(__file__).resolve().parents[2]


# -- builders ------------------------------------------------------------------------------

def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "Forum report"
    d.core_properties.author = "Haiyan Qian; Vincenzo Aquaro"
    d.add_heading("Seoul Forum", level=1)
    d.add_paragraph("The forum discussed open government data.")
    d.add_heading("Participants", level=2)
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "Name", "Organisation"
    t.cell(1, 0).text, t.cell(1, 1).text = "Kim", "DPADM"
    d.add_paragraph("After the table.")
    d.add_paragraph("First point", style="List Bullet")
    for section in d.sections:
        section.header.paragraphs[0].text = "UN DESA running header"
        section.footer.paragraphs[0].text = "Confidential footer"
    d.add_section()  # a second section repeats the (linked) header: it must appear once
    d.add_paragraph("Second section text.")
    d.save(path)
    return path


def make_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    s1 = prs.slides.add_slide(prs.slide_layouts[5])  # title only
    s1.shapes.title.text = "E-procurement in Kazakhstan"
    low = s1.shapes.add_textbox(Inches(1), Inches(5), Inches(4), Inches(1))
    low.text_frame.text = "Lower box"
    high = s1.shapes.add_textbox(Inches(1), Inches(2), Inches(4), Inches(1))
    high.text_frame.text = "Upper box"
    grp = s1.shapes.add_group_shape()
    inner = grp.shapes.add_textbox(Inches(1), Inches(6), Inches(2), Inches(1))
    inner.text_frame.text = "Grouped text"
    s1.notes_slide.notes_text_frame.text = "Speaker says hello"
    s2 = prs.slides.add_slide(prs.slide_layouts[5])
    s2.shapes.title.text = "Budget"
    table = s2.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    table.cell(0, 0).text, table.cell(0, 1).text = "Item", "Cost"
    table.cell(1, 0).text, table.cell(1, 1).text = "Travel", "5,800"
    prs.save(path)
    return path


def make_xlsx(path: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Countries"
    ws.append(["Country", "EGDI", "Region"])
    ws.append(["Korea", 0.98, "Asia"])
    ws.append([None, None, None])
    ws.append(["Estonia", 0.94, "Europe"])
    wb.create_sheet("Empty")
    wb.save(path)
    return path


def _pdf(pages: list[list[tuple[float, float, float, str]]]) -> bytes:
    """A minimal valid PDF: each page a list of (x, y, size, text) in Helvetica."""
    objs: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, page in enumerate(pages):
        ops = "".join(f"BT /F1 {s} Tf {x} {y} Td ({t}) Tj ET\n" for x, y, s, t in page).encode("latin-1")
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 "
                    f"{font_id} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(ops) + ops + b"endstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return out.getvalue()


def report_pdf() -> bytes:
    pages = []
    for n in range(1, 5):
        page = [(72, 750, 9, "Global e-Government Forum 2012 - Final Report"),  # running header
                (72, 700, 18, f"Chapter {n}"),
                (72, 670, 11, f"Text of chapter {n} talks about the infor-"),
                (72, 656, 11, "mation society and e-"),
                (72, 642, 11, "government in many countries."),
                (72, 600, 11, f"A second paragraph on page {n}."),
                (300, 40, 9, str(n))]  # page number
        pages.append(page)
    return _pdf(pages)


# -- tests -----------------------------------------------------------------------------------

def test_sniff_uses_content_before_extension(tmp_path: Path) -> None:
    assert sniff(b"%PDF-1.7\n...", "report.docx") == "pdf"
    assert sniff(b"<!DOCTYPE html><html><body>x</body></html>", "page.txt") == "html"
    assert sniff("\ufeff<html><body>x</body></html>".encode("utf-16"), "x.bin") == "html"
    assert sniff(b"# Title\n\ntext", "notes.md") == "md"
    assert sniff(b'{"id": 1, "text": "a"}\n{"id": 2}\n', None) == "jsonl"
    docx_path = make_docx(tmp_path / "renamed.pdf")
    assert sniff(docx_path) == "docx"  # a DOCX with a wrong extension is still a DOCX
    with pytest.raises(UnsupportedFormatError):
        sniff(b"\x00\x01\x02binary junk", "blob.bin")


def test_docx_body_order_headings_tables_headers_once(tmp_path: Path) -> None:
    ex = extract(make_docx(tmp_path / "r.docx"))
    kinds = [(b.kind, b.text) for b in ex.blocks]
    assert ("heading", "Seoul Forum") in kinds and ("heading", "Participants") in kinds
    levels = {b.text: b.level for b in ex.blocks if b.kind == "heading"}
    assert levels == {"Seoul Forum": 1, "Participants": 2}
    texts = [b.text for b in ex.blocks]
    # The table stays where it is in the body: between its heading and the next paragraph.
    assert texts.index("Participants") < texts.index("Name | Organisation") < texts.index("After the table.")
    assert ("table_row", "Kim | DPADM") in kinds
    assert ("list_item", "First point") in kinds
    notes = [b.text for b in ex.blocks if b.kind == "note"]
    assert notes.count("UN DESA running header") == 1 and "Confidential footer" in notes
    assert ex.title == "Forum report" and ex.authors == ["Haiyan Qian", "Vincenzo Aquaro"]


def test_pptx_slides_reading_order_groups_tables_notes(tmp_path: Path) -> None:
    ex = extract(make_pptx(tmp_path / "deck.pptx"))
    assert ex.page_count == 2
    s1 = [(b.kind, b.text) for b in ex.blocks if b.page == 1]
    assert s1[0] == ("title", "E-procurement in Kazakhstan")
    body = [t for k, t in s1 if k == "paragraph"]
    assert body == ["Upper box", "Lower box", "Grouped text"]  # top to bottom, group recursed
    assert ("note", "Speaker says hello") in s1
    s2 = [(b.kind, b.text) for b in ex.blocks if b.page == 2]
    assert s2 == [("title", "Budget"), ("table_row", "Item | Cost"), ("table_row", "Travel | 5,800")]


def test_xlsx_rows_with_header_names_and_limits(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "egdi.xlsx")
    ex = extract(path)
    texts = [(b.kind, b.text) for b in ex.blocks]
    assert texts[0] == ("heading", "Countries")
    assert ("table_row", "Country: Korea; EGDI: 0.98; Region: Asia") in texts
    # After an empty row a new table starts, its first row being its header.
    assert any("Estonia" in t for _, t in texts)
    assert ("heading", "Empty") not in texts
    with pytest.raises(ResourceLimitError):
        extract(path, limits={"max_cells": 4})


def test_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"<w>" + b" " * (30 * 1024 * 1024) + b"</w>")
    with pytest.raises(ResourceLimitError, match="zip bomb suspected"):
        extract(bomb, limits={"max_inflate_mb": 512})
    with pytest.raises(ResourceLimitError, match="zip bomb suspected"):
        extract(bomb, limits={"max_inflate_mb": 10})


def test_xml_entities_are_not_expanded(tmp_path: Path) -> None:
    """A billion-laughs DOCX must fail cleanly (lxml in python-docx refuses huge expansion)."""
    src = make_docx(tmp_path / "ok.docx")
    evil = tmp_path / "evil.docx"
    lol = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
           + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
           + "]>")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(evil, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "word/document.xml":
                data = data.replace(b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>", b"")
                data = lol.encode() + data.replace(b"Seoul Forum", b"&lol9;")
            zout.writestr(item, data)
    try:
        ex = extract(evil)
    except ExtractionError:
        return
    assert all(len(b.text) < 100_000 for b in ex.blocks)  # never a billion laughs


def test_html_structure_encoding_and_boilerplate() -> None:
    page = ("<html><head><title>E-Gov  Page</title><style>p{}</style></head><body>"
            "<nav><a>Home</a><a>Menu item</a></nav><header>Site banner</header>"
            "<h1>Open data</h1><p>Caf\xe9 na\xefve \u20ac</p><ul><li>One</li><li>Two</li></ul>"
            "<table><tr><th>Country</th><th>Score</th></tr><tr><td>Korea</td><td>0.98</td></tr></table>"
            "<pre>line 1\nline 2</pre><script>var x = 'hidden';</script><footer>Copyright</footer></body></html>")
    for data in (page.encode("cp1252"), page.encode("utf-16")):
        ex = extract(io.BytesIO(data), name="p.html")
        texts = [(b.kind, b.text) for b in ex.blocks]
        assert ex.title == "E-Gov Page"
        assert texts[0] == ("heading", "Open data")
        assert ("paragraph", "Café naïve €") in texts
        assert ("list_item", "Two") in texts and ("table_row", "Korea | 0.98") in texts
        assert ("paragraph", "line 1\nline 2") in texts
        joined = " ".join(t for _, t in texts)
        for gone in ("Menu item", "Site banner", "hidden", "Copyright"):
            assert gone not in joined


def test_markdown_headings_lists_and_table_rows_whole() -> None:
    md = ("Title\n=====\n\nIntro **bold** text with a [link](http://x).\n\n## Budget\n\n"
          "| Name | Org |\n|---|---|\n| Haiyan Qian | DPADM |\n| Kim | UNESCAP |\n\n- item one\n- item two\n")
    ex = extract(io.BytesIO(md.encode()), name="r.md")
    kinds = [(b.kind, b.text) for b in ex.blocks]
    assert kinds[0] == ("heading", "Title") and ("heading", "Budget") in kinds
    assert ("paragraph", "Intro bold text with a link.") in kinds
    assert ("table_row", "Name: Haiyan Qian | Org: DPADM") in kinds
    assert ("list_item", "item two") in kinds


def test_forum_report_participant_rows_stay_whole() -> None:
    ex = extract(REPO / "corpus" / "forum-2012-final-report.md")
    rows = [b.text for b in ex.blocks if b.kind == "table_row"]
    qian = [r for r in rows if "Qian" in r]
    assert len(qian) == 1 and "First Name: Haiyan" in qian[0] and "Organization: DPADM" in qian[0]
    assert "Total: 7,638" in qian[0]
    assert "Summary" in [b.text for b in ex.blocks if b.kind == "heading"]


def test_pdf_pages_running_lines_hyphenation_headings() -> None:
    ex = extract(io.BytesIO(report_pdf()))
    assert ex.format == "pdf" and ex.page_count == 4
    texts = [b.text for b in ex.blocks]
    assert not any("Final Report" in t for t in texts)  # running header removed
    assert not any(t.strip().isdigit() for t in texts)  # page numbers removed
    para = next(b for b in ex.blocks if b.text.startswith("Text of chapter 3"))
    assert para.page == 3
    assert "information society and e-government in many countries." in para.text
    heads = [b for b in ex.blocks if b.kind == "heading"]
    assert [(h.text, h.page) for h in heads] == [(f"Chapter {n}", n) for n in range(1, 5)]
    assert [b.page for b in ex.blocks if b.text.startswith("A second paragraph")] == [1, 2, 3, 4]


def test_pdf_garbage_and_truncation_are_extraction_errors() -> None:
    data = report_pdf()
    for bad in (b"%PDF-1.4\n" + b"\x00garbage" * 50, data[: len(data) // 3]):
        try:
            ex = extract(io.BytesIO(bad), name="x.pdf")
        except ExtractionError as exc:
            assert "\n" not in str(exc)
        else:
            assert isinstance(ex.blocks, list)


def test_encrypted_ooxml_container_is_reported(tmp_path: Path) -> None:
    # An encrypted .xlsx is an OLE2 compound file with an EncryptionInfo stream.
    head = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500 + "EncryptionInfo".encode("utf-16-le")
    with pytest.raises(EncryptedError, match="password-protected"):
        extract(io.BytesIO(head + b"\x00" * 100), name="secret.xlsx")


def test_legacy_without_soffice_says_install_libreoffice(monkeypatch) -> None:
    from indexer.extract import legacy

    monkeypatch.setattr(legacy, "soffice", lambda: None)
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200 + "WordDocument".encode("utf-16-le")
    with pytest.raises(UnsupportedFormatError, match=r"unsupported format \.doc: install LibreOffice"):
        extract(io.BytesIO(ole), name="old.doc")


def test_records_jsonl_and_csv(tmp_path: Path) -> None:
    jl = tmp_path / "corpus.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in [
        {"_id": "d1", "title": "T1", "text": "Body one", "year": 2012},
        {"id": 7, "text": "Body two"}, {"title": "no id: skipped"}]), encoding="utf-8")
    recs = list(extract_records(jl))
    assert [(r.source_id, r.title, r.text) for r in recs] == [("d1", "T1", "Body one"), ("7", None, "Body two")]
    assert recs[0].metadata == {"year": 2012}
    cs = tmp_path / "papers.csv"
    cs.write_text("id,title,text,country\np1,Open data,Abstract here,KOR\np2,E-gov,Other,EST\n", encoding="utf-8")
    assert is_record_collection(cs) and is_record_collection(jl)
    assert not is_record_collection(make_xlsx(tmp_path / "x.xlsx"))
    recs = list(extract_records(cs))
    assert [r.source_id for r in recs] == ["p1", "p2"] and recs[0].metadata == {"country": "KOR"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n{not json\n', encoding="utf-8")
    with pytest.raises(ExtractionError, match="line 2"):
        list(extract_records(bad))


def test_stream_input_matches_path_input(tmp_path: Path) -> None:
    path = make_pptx(tmp_path / "deck.pptx")
    with open(path, "rb") as fh:
        from_stream = extract(fh)
    assert [b.to_dict() for b in from_stream.blocks] == [b.to_dict() for b in extract(path).blocks]
    assert isinstance(EXTRACTOR_VERSION, str) and EXTRACTOR_VERSION


def test_a_library_the_parser_fails_to_load_is_not_called_a_malformed_file():
    with (pytest.raises(ExtractionError, match="the PDF reader could not load a library") as info,
          parser_errors("pdf")):
        importlib.import_module("kb_no_such_library")  # as a parser's on-demand import fails
    assert "malformed" not in str(info.value)
