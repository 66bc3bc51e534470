"""DOCX with python-docx: body in document order (tables in place), headings by style level,
list items, table rows, headers/footers once, core properties."""
from __future__ import annotations

import re
from typing import BinaryIO

from kb.model import Block, Extracted

_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre|título|titolo|kop)\s*(\d)", re.IGNORECASE)


def extract(stream: BinaryIO, password: str | None = None, limits: dict | None = None) -> Extracted:
    import docx
    from docx.oxml.ns import qn

    document = docx.Document(stream)
    max_cells = int((limits or {}).get("max_cells") or 0)
    blocks: list[Block] = []
    body = document.element.body
    cells_seen = 0
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            block = _paragraph(docx.text.paragraph.Paragraph(child, document._body))
            if block:
                blocks.append(block)
        elif child.tag == qn("w:tbl"):
            table = docx.table.Table(child, document._body)
            for row_text in _table_rows(table):
                blocks.append(Block("table_row", row_text))
                cells_seen += row_text.count(" | ") + 1
                if max_cells and cells_seen > max_cells:
                    from kb.errors import ResourceLimitError

                    raise ResourceLimitError(f"DOCX has more than {max_cells} table cells")
        elif child.tag == qn("w:sdt"):  # content controls (e.g. a table of contents) hold paragraphs
            for p in child.iter(qn("w:p")):
                block = _paragraph(docx.text.paragraph.Paragraph(p, document._body))
                if block:
                    blocks.append(block)
    blocks.extend(_headers_footers(document))
    props = document.core_properties
    authors = [a.strip() for a in re.split(r"[;,]", props.author or "") if a.strip()]
    return Extracted(format="docx", blocks=blocks, title=(props.title or "").strip() or None, authors=authors,
                     created=props.created.isoformat() if props.created else None,
                     modified=props.modified.isoformat() if props.modified else None,
                     metadata={k: v for k, v in (("subject", props.subject), ("keywords", props.keywords),
                                                  ("language", props.language)) if v})


def _paragraph(p) -> Block | None:
    text = " ".join(p.text.split())
    if not text:
        return None
    style = ""
    try:
        style = p.style.name if p.style is not None else ""
    except (KeyError, ValueError, AttributeError):  # dangling style ids in hand-made files
        style = ""
    m = _HEADING_STYLE.match(style or "")
    if m:
        return Block("heading", text, level=min(int(m.group(1)) or 1, 6))
    if style in ("Title",):
        return Block("title", text, level=1)
    if style == "Subtitle":
        return Block("heading", text, level=2)
    outline = p._p.find(".//{http://schemas.openxmlformats.org/wordprocessingml/2006/main}outlineLvl")
    if outline is not None:
        try:
            return Block("heading", text, level=min(int(outline.get(
                "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}val")) + 1, 6))
        except (TypeError, ValueError):
            pass
    is_list = "List" in (style or "") or p._p.find(
        ".//{http://schemas.openxmlformats.org/wordprocessingml/2006/main}numPr") is not None
    return Block("list_item" if is_list else "paragraph", text)


def _table_rows(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen = set()
        try:
            row_cells = row.cells
        except (IndexError, ValueError):  # ragged grids python-docx cannot lay out
            row_cells = []
        for cell in row_cells:
            if id(cell._tc) in seen:  # merged cells repeat the same element
                continue
            seen.add(id(cell._tc))
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows


def _headers_footers(document) -> list[Block]:
    """Each distinct header/footer text once, as notes after the body."""
    seen: set[str] = set()
    blocks: list[Block] = []
    for section in document.sections:
        for part_name in ("header", "first_page_header", "even_page_header", "footer", "first_page_footer",
                          "even_page_footer"):
            try:
                part = getattr(section, part_name)
                if part.is_linked_to_previous and part_name != "header" and part_name != "footer":
                    continue
                texts = [" ".join(p.text.split()) for p in part.paragraphs]
                texts += _table_rows_all(part.tables)
            except Exception:  # headers are a nicety: a broken part must not fail the file  # noqa: BLE001, S112
                continue
            for text in texts:
                if text and text not in seen:
                    seen.add(text)
                    blocks.append(Block("note", text, meta={"part": part_name.split("_")[-1]}))
    return blocks


def _table_rows_all(tables) -> list[str]:
    out = []
    for t in tables:
        out.extend(_table_rows(t))
    return out
