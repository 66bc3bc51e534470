"""PPTX with python-pptx: per slide its title, body in reading order (groups recursed),
table rows, chart titles, speaker notes; the slide number is the page."""
from __future__ import annotations

from typing import BinaryIO

from kb.model import Block, Extracted


def extract(stream: BinaryIO, password: str | None = None, limits: dict | None = None) -> Extracted:
    from pptx import Presentation

    prs = Presentation(stream)
    blocks: list[Block] = []
    count = 0
    for number, slide in enumerate(prs.slides, start=1):
        count = number
        title_shape = None
        try:
            title_shape = slide.shapes.title
        except (KeyError, AttributeError):
            title_shape = None
        if title_shape is not None and title_shape.has_text_frame:
            title = " ".join(title_shape.text_frame.text.split())
            if title:
                blocks.append(Block("title", title, page=number, level=1))
        for shape in _reading_order(list(slide.shapes)):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            blocks.extend(_shape_blocks(shape, number))
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            text = " ".join(notes.text.split()) if notes is not None else ""
            if text:
                blocks.append(Block("note", text, page=number))
    props = prs.core_properties
    return Extracted(format="pptx", blocks=blocks, title=(props.title or "").strip() or None,
                     authors=[a.strip() for a in (props.author or "").split(";") if a.strip()],
                     created=props.created.isoformat() if props.created else None,
                     modified=props.modified.isoformat() if props.modified else None, page_count=count)


def _reading_order(shapes: list) -> list:
    """Top to bottom, then left to right; shapes within ~half a line count as one row."""
    def key(shape):
        top = shape.top if shape.top is not None else 0
        left = shape.left if shape.left is not None else 0
        return (round(top / 228600), left)  # 228600 EMU = 0.25 inch bands
    return sorted(shapes, key=key)


def _shape_blocks(shape, page: int) -> list[Block]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    blocks: list[Block] = []
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for sub in _reading_order(list(shape.shapes)):
            blocks.extend(_shape_blocks(sub, page))
        return blocks
    if getattr(shape, "has_table", False) and shape.has_table:
        for row in shape.table.rows:
            blocks.extend(_table_row(shape.table, row, page))
        return blocks
    if getattr(shape, "has_chart", False) and shape.has_chart:
        from indexer.extract.charts import chart_blocks

        try:
            blocks.extend(chart_blocks(shape.chart_part.blob, page=page))
        except Exception:  # a chart we cannot read is skipped, the slide text is kept  # noqa: BLE001, S110
            pass
        return blocks
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        number = 0
        for para in shape.text_frame.paragraphs:
            text = " ".join(para.text.split())
            ppr = para._p.find(f"{_A}pPr")
            auto = ppr is not None and ppr.find(f"{_A}buAutoNum") is not None
            number = number + 1 if auto else 0
            if not text:
                continue
            bullet = ppr is not None and ppr.find(f"{_A}buChar") is not None
            if auto:
                text = f"{number}. {text}"  # the number is part of what the reader sees
            kind = "list_item" if (para.level > 0 or bullet or auto) else "paragraph"
            blocks.append(Block(kind, text, page=page, meta={"level": para.level} if para.level else {}))
    return blocks


_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"


def _table_row(table, row, page: int) -> list[Block]:
    cells = []
    for cell in row.cells:
        if cell.is_spanned:
            # python-pptx leaves spanned cells empty; repeat the merge origin's text so each
            # column of the row keeps its value (as the row reads on the slide).
            origin = _origin_text(table, cell)
            cells.append(origin)
        else:
            cells.append(" ".join(cell.text.split()))
    cells = [c for c in cells if c]
    return [Block("table_row", " | ".join(cells), page=page)] if cells else []


def _origin_text(table, cell) -> str:
    tc = cell._tc
    grid = [[c._tc for c in r.cells] for r in table.rows]
    for r, row in enumerate(grid):
        for c, other in enumerate(row):
            if other is tc:
                # Walk up/left to the cell whose span covers this one.
                for rr in range(r, -1, -1):
                    for cc in range(c, -1, -1):
                        origin = table.cell(rr, cc)
                        if origin.is_merge_origin and rr + origin.span_height > r and cc + origin.span_width > c:
                            return " ".join(origin.text.split())
                return ""
    return ""
