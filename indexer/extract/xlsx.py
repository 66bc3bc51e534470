"""XLSX with openpyxl (read-only, cached values): one heading per sheet; each table on the
sheet (blocks of cells separated by empty rows/columns) as rows "Header: value; Header2:
value2" using its first non-empty row as the header; charts with their data."""
from __future__ import annotations

import datetime as dt
from typing import Any, BinaryIO

from kb.errors import ResourceLimitError
from kb.model import Block, Extracted

DEFAULT_MAX_ROWS = 100_000
DEFAULT_MAX_CELLS = 2_000_000
MAX_COLUMNS = 1000  # beyond this, trailing columns are formatting debris


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())


def extract(stream: BinaryIO, password: str | None = None, limits: dict | None = None) -> Extracted:
    import openpyxl

    from indexer.extract.charts import chart_blocks, xlsx_sheet_charts

    limits = limits or {}
    max_rows = int(limits.get("max_rows") or DEFAULT_MAX_ROWS)
    max_cells = int(limits.get("max_cells") or DEFAULT_MAX_CELLS)
    try:
        charts = xlsx_sheet_charts(stream)
    except Exception:  # charts are a bonus; a broken drawing must not cost the cells  # noqa: BLE001
        charts = {}
    stream.seek(0)
    wb = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    blocks: list[Block] = []
    budget = {"cells": 0, "rows": 0}
    try:
        sheets = [ws.title for ws in wb.worksheets]
        for ws in wb.worksheets:
            if getattr(ws, "sheet_state", "visible") != "visible":
                continue
            grid = _grid(ws, budget, max_rows, max_cells)
            sheet_blocks: list[Block] = []
            for region in _regions(grid):
                sheet_blocks.extend(_table_blocks(region, ws.title))
            for xml in charts.get(ws.title, []):
                try:
                    sheet_blocks.extend(chart_blocks(xml, meta={"sheet": ws.title}))
                except Exception:  # noqa: BLE001, S112
                    continue
            if sheet_blocks:
                blocks.append(Block("heading", ws.title, level=1, meta={"sheet": ws.title}))
                blocks.extend(sheet_blocks)
        props = wb.properties
        title = ((props.title or "").strip() or None) if props else None
        authors = [props.creator.strip()] if props and props.creator and props.creator.strip() else []
        created = props.created.isoformat() if props and props.created else None
        modified = props.modified.isoformat() if props and props.modified else None
    finally:
        wb.close()
    return Extracted(format="xlsx", blocks=blocks, title=title, authors=authors, created=created,
                     modified=modified, metadata={"sheets": sheets})


def _grid(ws, budget: dict, max_rows: int, max_cells: int) -> list[list[str]]:
    grid: list[list[str]] = []
    for row in ws.iter_rows(values_only=True):
        values = [_fmt(v) for v in row[:MAX_COLUMNS]]
        budget["cells"] += len(values)
        if budget["cells"] > max_cells:
            raise ResourceLimitError(f"workbook has more than {max_cells} cells")
        while values and not values[-1]:
            values.pop()
        if values:
            budget["rows"] += 1
            if budget["rows"] > max_rows:
                raise ResourceLimitError(f"workbook has more than {max_rows} non-empty rows")
        grid.append(values)
    while grid and not grid[-1]:
        grid.pop()
    return grid


def _regions(grid: list[list[str]]) -> list[list[list[str]]]:
    """Tables on a sheet: split at fully empty columns, then at empty rows within each band."""
    width = max((len(r) for r in grid), default=0)
    used = [any(c < len(r) and r[c] for r in grid) for c in range(width)]
    bands: list[tuple[int, int]] = []
    start = None
    for c, u in enumerate(used + [False]):
        if u and start is None:
            start = c
        elif not u and start is not None:
            bands.append((start, c))
            start = None
    found: list[tuple[int, int, list[list[str]]]] = []
    for lo, hi in bands:
        current: list[list[str]] = []
        top = 0
        for i, row in enumerate(grid):
            cells = row[lo:hi]
            if any(cells):
                if not current:
                    top = i
                current.append(cells)
            elif current:
                found.append((top, lo, current))
                current = []
        if current:
            found.append((top, lo, current))
    found.sort(key=lambda t: (t[0], t[1]))
    return [rows for _, _, rows in found]


def _table_blocks(rows: list[list[str]], sheet: str) -> list[Block]:
    blocks: list[Block] = []
    header: list[str] | None = None
    meta = {"sheet": sheet}
    for values in rows:
        filled = [v for v in values if v]
        if header is None and len(filled) == 1 and len(rows) > 1:
            # A lone caption cell above the table ("3. Analyses by segment") is not a header.
            blocks.append(Block("paragraph", filled[0], meta=meta))
            continue
        if header is None:
            header = values
            blocks.append(Block("table_row", " | ".join(filled), meta=dict(meta, header=True)))
            continue
        pairs = []
        for i, v in enumerate(values):
            if not v:
                continue
            name = header[i] if i < len(header) else ""
            pairs.append(f"{name}: {v}" if name and name != v else v)
        blocks.append(Block("table_row", "; ".join(pairs), meta=meta))
    return blocks
