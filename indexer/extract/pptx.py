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
            cells = [" ".join(c.text.split()) for c in row.cells]
            cells = [c for c in cells if c]
            if cells:
                blocks.append(Block("table_row", " | ".join(cells), page=page))
        return blocks
    if getattr(shape, "has_chart", False) and shape.has_chart:
        chart = shape.chart
        try:
            if chart.has_title and chart.chart_title.has_text_frame:
                text = " ".join(chart.chart_title.text_frame.text.split())
                if text:
                    blocks.append(Block("caption", text, page=page, meta={"chart": True}))
        except (AttributeError, KeyError, ValueError):
            pass
        return blocks
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        for para in shape.text_frame.paragraphs:
            text = " ".join("".join(r.text for r in para.runs).split()) or " ".join(para.text.split()) if para else ""
            if not text:
                continue
            is_list = para.level > 0 or para._p.find(
                "{http://schemas.openxmlformats.org/drawingml/2006/main}pPr/"
                "{http://schemas.openxmlformats.org/drawingml/2006/main}buChar") is not None
            blocks.append(Block("list_item" if is_list else "paragraph", text, page=page,
                                meta={"level": para.level} if para.level else {}))
    return blocks
