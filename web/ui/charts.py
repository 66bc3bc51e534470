"""Geometry for the inline SVG charts. Python computes numbers only; the templates draw them
(and escape every label), so no markup is built from strings here."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Colour classes for the map and their legend labels (colour-blind safe sequential blues).
MAP_CLASSES = ((0, "c0", "none"), (1, "c1", "1"), (2, "c2", "2–9"), (10, "c3", "10–99"), (100, "c4", "100+"))
REGION_ORDER = ("Africa", "Americas", "Asia", "Europe", "Oceania")


def histogram(series: Iterable[tuple[int, int]], width: int = 560, height: int = 140) -> dict[str, Any]:
    """Bars for (year, count) with every year in the span present, so gaps are visible."""
    data = dict(series)
    if not data:
        return {"bars": [], "width": width, "height": height}
    years = list(range(min(data), max(data) + 1))
    if len(years) > 80:  # a stray year (e.g. 1900) must not make bars one pixel wide
        years = sorted(data)
    top = max(data.values()) or 1
    plot = height - 30
    step = min(width / len(years), 48.0)  # a few years must not become slabs
    width = max(round(step * len(years)), 120)
    bars = []
    for i, y in enumerate(years):
        n = data.get(y, 0)
        h = round(plot * n / top)
        bars.append({"year": y, "count": n, "x": round(i * step + 2, 1), "w": round(max(step - 4, 1), 1),
                     "y": 10 + plot - h, "h": h, "label": len(years) <= 20 or i % max(1, len(years) // 10) == 0,
                     "tx": round(i * step + step / 2, 1)})
    return {"bars": bars, "width": width, "height": height, "top": top, "base": 10 + plot}


def map_class(count: int) -> str:
    cls = "c0"
    for lo, name, _ in MAP_CLASSES:
        if count >= lo:
            cls = name
    return cls


def cartogram(countries: list[dict[str, Any]], per_row: int = 6, tile: int = 38, gap: int = 3) -> dict[str, Any]:
    """A tile cartogram: one column per UN region, sub-regions stacked inside it with a label,
    one equal-sized tile per country. It shows membership and counts, not geography."""
    by_region: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for c in countries:
        region = c.get("region") or "Other"
        by_region.setdefault(region, {}).setdefault(c.get("subregion") or region, []).append(c)
    order = [r for r in REGION_ORDER if r in by_region] + sorted(r for r in by_region if r not in REGION_ORDER)
    col_w = per_row * (tile + gap) + 16
    columns, tiles, labels = [], [], []
    height = 0
    for ci, region in enumerate(order):
        x0 = ci * col_w
        y = 24
        columns.append({"name": region, "x": x0, "y": 14})
        for sub, members in sorted(by_region[region].items()):
            labels.append({"name": sub, "x": x0, "y": y + 12})
            y += 18
            for i, c in enumerate(sorted(members, key=lambda c: c["name"])):
                tiles.append({"id": c["id"], "name": c["name"], "mentions": c["mentions"],
                              "cls": map_class(c["mentions"]),
                              "x": x0 + (i % per_row) * (tile + gap), "y": y + (i // per_row) * (tile + gap),
                              "size": tile})
            y += ((len(members) + per_row - 1) // per_row) * (tile + gap) + 8
        height = max(height, y)
    return {"columns": columns, "tiles": tiles, "labels": labels, "width": max(col_w * len(order), 1),
            "height": height + 4, "tile": tile, "legend": [{"cls": c, "label": lab} for _, c, lab in MAP_CLASSES]}


def benchmark_bars(bm: dict[str, Any] | None, name: str, width: int = 300, row: int = 22) -> dict[str, Any]:
    """Horizontal bars on the EGDI scale (0-1): the country, then the median of each group."""
    if not bm:
        return {"bars": []}
    label_w = 110
    plot = width - label_w - 40
    items = [(name, bm["egdi"], True)] + [(f"{r['label']} median", r["median"], False) for r in bm["rows"]]
    bars = [{"label": lab, "value": v, "own": own, "y": 4 + i * row, "w": round(plot * max(0.0, min(1.0, v)), 1),
             "x": label_w, "tx": label_w + round(plot * max(0.0, min(1.0, v)), 1) + 4}
            for i, (lab, v, own) in enumerate(items)]
    return {"bars": bars, "width": width, "height": 8 + len(items) * row, "row": row - 6}
