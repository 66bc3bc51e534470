"""XLSX with openpyxl (read-only, cached values): one heading per sheet, rows as
"Header: value; Header2: value2" using the first non-empty row as the header."""
from __future__ import annotations

import datetime as dt
from typing import Any, BinaryIO

from kb.errors import ResourceLimitError
from kb.model import Block, Extracted

DEFAULT_MAX_ROWS = 100_000
DEFAULT_MAX_CELLS = 2_000_000


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return " ".join(str(value).split())


def extract(stream: BinaryIO, password: str | None = None, limits: dict | None = None) -> Extracted:
    import openpyxl

    limits = limits or {}
    max_rows = int(limits.get("max_rows") or DEFAULT_MAX_ROWS)
    max_cells = int(limits.get("max_cells") or DEFAULT_MAX_CELLS)
    wb = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    blocks: list[Block] = []
    cells = rows_total = 0
    try:
        for ws in wb.worksheets:
            if getattr(ws, "sheet_state", "visible") != "visible":
                continue
            header: list[str] | None = None
            sheet_blocks: list[Block] = []
            for row in ws.iter_rows(values_only=True):
                values = [_fmt(v) for v in row]
                cells += len(values)
                if cells > max_cells:
                    raise ResourceLimitError(f"workbook has more than {max_cells} cells")
                if not any(values):
                    continue
                while values and not values[-1]:
                    values.pop()
                if header is None and sum(1 for v in values if v) == 1:
                    # A lone caption cell above the table ("3. Analyses by segment") is not a header.
                    sheet_blocks.append(Block("paragraph", next(v for v in values if v), meta={"sheet": ws.title}))
                    continue
                if header is None:
                    header = values
                    sheet_blocks.append(Block("table_row", " | ".join(v for v in values if v),
                                              meta={"sheet": ws.title, "header": True}))
                    continue
                rows_total += 1
                if rows_total > max_rows:
                    raise ResourceLimitError(f"workbook has more than {max_rows} rows")
                pairs = []
                for i, v in enumerate(values):
                    if not v:
                        continue
                    name = header[i] if i < len(header) else ""
                    pairs.append(f"{name}: {v}" if name and name != v else v)
                sheet_blocks.append(Block("table_row", "; ".join(pairs), meta={"sheet": ws.title}))
            if sheet_blocks:
                blocks.append(Block("heading", ws.title, level=1, meta={"sheet": ws.title}))
                blocks.extend(sheet_blocks)
        props = wb.properties
        title = (props.title or "").strip() or None if props else None
        authors = [props.creator.strip()] if props and props.creator and props.creator.strip() else []
        created = props.created.isoformat() if props and props.created else None
        modified = props.modified.isoformat() if props and props.modified else None
    finally:
        wb.close()
    return Extracted(format="xlsx", blocks=blocks, title=title, authors=authors, created=created,
                     modified=modified, metadata={"sheets": [ws.title for ws in wb.worksheets]})
