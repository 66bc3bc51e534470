"""Charts in OOXML files (DrawingML chart parts): title, kind and the cached data table.

Charts carry real content (the figures a slide or sheet is about) in a small cache of
values. Parsed with defusedxml so a hostile part cannot expand entities.
"""
from __future__ import annotations

import posixpath
import zipfile
from typing import BinaryIO

from kb.model import Block

_C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_KINDS = {"barChart": "Bar", "bar3DChart": "Bar", "lineChart": "Line", "line3DChart": "Line", "pieChart": "Pie",
          "pie3DChart": "Pie", "doughnutChart": "Doughnut", "areaChart": "Area", "area3DChart": "Area",
          "scatterChart": "Scatter", "bubbleChart": "Bubble", "radarChart": "Radar", "stockChart": "Stock",
          "surfaceChart": "Surface", "surface3DChart": "Surface", "ofPieChart": "Pie"}
MAX_POINTS = 2000


def _points(node) -> list[str]:
    if node is None:
        return []
    pts = []
    for pt in node.iter(f"{_C}pt"):
        v = pt.find(f"{_C}v")
        if v is not None and v.text is not None:
            pts.append((int(pt.get("idx", len(pts))), v.text.strip()))
    pts.sort()
    return [_num(v) for _, v in pts[:MAX_POINTS]]


def _num(text: str) -> str:
    try:
        f = float(text)
    except ValueError:
        return text
    return str(int(f)) if f.is_integer() else f"{f:g}"


def chart_blocks(xml: bytes, page: int | None = None, meta: dict | None = None) -> list[Block]:
    """A caption "<Kind> chart: <title>" and one table_row per category."""
    from defusedxml import ElementTree

    root = ElementTree.fromstring(xml)
    chart = root.find(f"{_C}chart")
    if chart is None:
        return []
    meta = dict(meta or {}, chart=True)
    title_node = chart.find(f"{_C}title")
    title = " ".join("".join(t.text or "" for t in title_node.iter(f"{_A}t")).split()) if title_node is not None else ""
    plot = chart.find(f"{_C}plotArea")
    kinds = [_KINDS.get(child.tag.replace(_C, ""), None) for child in (plot if plot is not None else [])]
    kinds = [k for k in kinds if k]
    kind = kinds[0] if len(set(kinds)) == 1 else "Other"
    blocks = [Block("caption", f"{kind} chart" + (f": {title}" if title else ""), page=page, meta=meta)]
    series = []
    for ser in (plot.iter(f"{_C}ser") if plot is not None else []):
        name_node = ser.find(f"{_C}tx")
        name = " ".join(_points(name_node)) if name_node is not None else ""
        cats = _points(ser.find(f"{_C}cat")) or _points(ser.find(f"{_C}xVal"))
        vals = _points(ser.find(f"{_C}val")) or _points(ser.find(f"{_C}yVal"))
        series.append((name, cats, vals))
    if not series:
        return blocks
    cats = next((c for _, c, _ in series if c), [])
    rows = max(len(v) for _, _, v in series)
    for i in range(rows):
        cells = [cats[i]] if i < len(cats) else []
        for name, _, vals in series:
            if i < len(vals):
                cells.append(f"{name}: {vals[i]}" if name else vals[i])
        if cells:
            blocks.append(Block("table_row", " | ".join(cells), page=page, meta=meta))
    return blocks


def _rels(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """{rId: (type suffix, absolute target)} of a part."""
    from defusedxml import ElementTree

    folder, name = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", name + ".rels")
    try:
        root = ElementTree.fromstring(zf.read(rels_name))
    except KeyError:
        return {}
    out = {}
    for rel in root.iter(f"{_PKG}Relationship"):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        out[rel.get("Id")] = (rel.get("Type", "").rsplit("/", 1)[-1], path)
    return out


def xlsx_sheet_charts(stream: BinaryIO) -> dict[str, list[bytes]]:
    """{sheet name: [chart XML, ...]} following workbook -> sheet -> drawing -> chart links."""
    from defusedxml import ElementTree

    stream.seek(0)
    out: dict[str, list[bytes]] = {}
    with zipfile.ZipFile(stream) as zf:
        names = set(zf.namelist())
        if not any(n.startswith("xl/charts/") for n in names):
            return out
        wb_rels = _rels(zf, "xl/workbook.xml")
        root = ElementTree.fromstring(zf.read("xl/workbook.xml"))
        ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
        for sheet in root.iter(f"{ns}sheet"):
            rid = sheet.get(f"{_R}id")
            if rid not in wb_rels:
                continue
            charts: list[bytes] = []
            for kind, drawing in _rels(zf, wb_rels[rid][1]).values():
                if kind != "drawing":
                    continue
                for ckind, chart in _rels(zf, drawing).values():
                    if ckind == "chart" and chart in names:
                        charts.append(zf.read(chart))
            if charts:
                out[sheet.get("name", "")] = charts
    stream.seek(0)
    return out
