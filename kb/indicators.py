"""E-Government Development Index (EGDI) scores by country and year, read at run time.

kb ships the 2022 survey (kb/data/indicators/, CC0, source in its README); ``settings["indicators"]``
(``KB_INDICATORS``) names a CSV file, or a folder of CSV files, whose years are added to them
(or replace them, year by year), in the shapes the UN publishes them:

- one row per country and year with columns for the ISO3 code (``country``, ``iso3``,
  ``country-code``), the year (``year``, ``Survey Year``) and the index (``value``, ``egdi``,
  ``e-gov-index``, ``E-Government Index``), optionally the rank;
- one file per survey (``egdi-2012.csv``) without a year column: the year comes from the name;
- rows naming the country instead of its code (the 2022 file): names are resolved with
  pycountry (and country_converter for the UN's spellings), unresolvable rows are skipped.

Loaded files are cached by (path, mtime) so a page request does not re-read them.
"""
from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pycountry

from kb.errors import InvalidInputError

_ISO_COLS = ("iso3", "country-code", "country_code", "countrycode", "code", "country")
_NAME_COLS = ("country-name", "country name", "country_name", "name", "country")
_YEAR_COLS = ("year", "survey year", "survey_year")
_VALUE_COLS = ("value", "egdi", "e-gov-index", "e-government index", "e_gov_index")
_RANK_COLS = ("rank", "e-gov-rank", "e-government rank", "egdi rank")
# The survey's component indices, when the file has them.
_PART_COLS = {"osi": ("osi", "online service index"), "hci": ("hci", "human capital index"),
              "tii": ("tii", "telecommunication infrastructure index"),
              "epi": ("epi", "e-pat-index", "e-participation index")}
SHIPPED = Path(__file__).resolve().parent / "data" / "indicators"
# The UN's spellings in the shipped 2022 file that pycountry does not know: resolving them here
# spares the first country page country_converter's import (about 1.5 s).
_UN_NAMES = {"republic of korea": "KOR", "democratic republic of the congo": "COD",
             "iran (islamic republic of)": "IRN", "micronesia (federated states of)": "FSM",
             "georgia (country)": "GEO"}


def _pick(header: dict[str, str], names: tuple[str, ...]) -> str | None:
    for n in names:
        if n in header:
            return header[n]
    return None


@lru_cache(maxsize=4096)
def _iso3_for(name: str) -> str | None:
    name = name.strip()
    if re.fullmatch(r"[A-Za-z]{3}", name):
        c = pycountry.countries.get(alpha_3=name.upper())
        if c is not None:
            return c.alpha_3
    if name.casefold() in _UN_NAMES:
        return _UN_NAMES[name.casefold()]
    try:
        return pycountry.countries.lookup(name).alpha_3
    except LookupError:
        pass
    try:
        import country_converter as coco  # slow to import: only for names pycountry misses

        out = coco.convert(name, to="ISO3", not_found=None)
        return out if isinstance(out, str) and len(out) == 3 else None
    except Exception:  # noqa: BLE001 - an unreadable name is skipped, not fatal
        return None


def _num(raw: str | None) -> float | None:
    try:
        return float(str(raw).strip())
    except (TypeError, ValueError):
        return None


def read_csv(path: Path) -> dict[str, dict[int, dict[str, float | None]]]:
    """iso3 -> year -> {"egdi": value, "rank": rank} from one file."""
    out: dict[str, dict[int, dict[str, float | None]]] = {}
    file_year = re.search(r"(19|20)\d\d", path.stem)
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.DictReader(fh)
        header = {h.strip().lower(): h for h in (reader.fieldnames or [])}
        value_col = _pick(header, _VALUE_COLS)
        year_col = _pick(header, _YEAR_COLS)
        iso_col = _pick(header, _ISO_COLS)
        name_col = _pick(header, _NAME_COLS)
        rank_col = _pick(header, _RANK_COLS)
        part_cols = {k: _pick(header, names) for k, names in _PART_COLS.items()}
        if value_col is None or (iso_col is None and name_col is None):
            raise InvalidInputError(f"indicators file {path.name}: no country and index columns in {list(header)}")
        if year_col is None and file_year is None:
            raise InvalidInputError(f"indicators file {path.name}: no year column and no year in the name")
        for row in reader:
            code = (row.get(iso_col) or "").strip() if iso_col else ""
            iso3 = _iso3_for(code) if code else None
            if iso3 is None and name_col:
                iso3 = _iso3_for(row.get(name_col) or "")
            value = _num(row.get(value_col))
            year = _num(row.get(year_col)) if year_col else float(file_year.group(0))  # type: ignore[union-attr]
            if iso3 is None or value is None or year is None:
                continue
            rank = _num(row.get(rank_col)) if rank_col else None
            rec: dict[str, float | None] = {"egdi": value, "rank": int(rank) if rank else None}
            rec.update({k: _num(row.get(c)) for k, c in part_cols.items() if c})
            out.setdefault(iso3, {})[int(year)] = rec
    return out


@lru_cache(maxsize=8)
def _load_cached(path: str, stamp: tuple[float, ...]) -> dict[str, dict[int, dict[str, float | None]]]:
    p = Path(path)
    files = sorted(p.glob("*.csv")) if p.is_dir() else [p]
    merged: dict[str, dict[int, dict[str, float | None]]] = {}
    for f in files:
        for iso3, years in read_csv(f).items():
            merged.setdefault(iso3, {}).update(years)
    return merged


def load(path: str | Path | None) -> dict[str, dict[int, dict[str, float | None]]]:
    """The shipped scores with those of a file or folder over them (year by year):
    iso3 -> year -> {"egdi", "rank", "osi", "hci", "tii", "epi"}."""
    merged = {iso3: dict(years) for iso3, years in _load_one(SHIPPED).items()}
    if path:
        for iso3, years in _load_one(Path(path)).items():
            merged.setdefault(iso3, {}).update(years)
    return merged


def _load_one(p: Path) -> dict[str, dict[int, dict[str, float | None]]]:
    if not p.exists():
        raise InvalidInputError(f"indicators file {p} does not exist")
    files = sorted(p.glob("*.csv")) if p.is_dir() else [p]
    stamp = tuple(f.stat().st_mtime for f in files)
    return _load_cached(str(p), stamp)


def egdi_series(path: str | Path | None, iso3: str) -> list[dict[str, Any]]:
    """[{year, egdi, rank, ...}] for one country, oldest first (shipped years included)."""
    years = load(path).get(iso3.upper(), {})
    return [{"year": y, **v} for y, v in sorted(years.items())]


def benchmark(path: str | Path | None, iso3: str, groups: dict[str, tuple[str, list[str]]]) -> dict[str, Any] | None:
    """The country's latest EGDI against groups of countries, as the UN's EGovKB compares
    them: for each group (key -> (label, member iso3s)) the median EGDI of the members scored
    that year and the country's rank among them. None when the country has no score."""
    scores = load(path)
    own = scores.get(iso3.upper(), {})
    if not own:
        return None
    year = max(own)
    rows = []
    for key, (label, members) in groups.items():
        got = ((scores.get(m, {}).get(year) or {}).get("egdi") for m in set(members) | {iso3.upper()})
        egdis = sorted(v for v in got if v is not None)
        if len(egdis) < 2:
            continue
        mid = len(egdis) // 2
        median = egdis[mid] if len(egdis) % 2 else (egdis[mid - 1] + egdis[mid]) / 2
        rank = 1 + sum(1 for v in egdis if v > own[year]["egdi"])  # type: ignore[operator]
        rows.append({"key": key, "label": label, "median": round(median, 4), "rank": rank, "of": len(egdis)})
    return {"year": year, "egdi": own[year]["egdi"], "rows": rows}
