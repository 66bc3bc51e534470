"""Export writers: search hits -> CSV, JSON, JSONL, XLSX, RIS, BibTeX.

Every writer is a generator: it takes an iterator of :class:`kb.search.types.Hit` (normally
``index.iter_all(request)``) and yields ``bytes`` chunks, so the CLI writes them to a file and
Flask streams them to the client without ever holding the result set. There is no row cap
(unless the ``export_max_rows`` setting asks for one).

Each export records where it came from (query, filters, sort, index build id, export time).
CSV and JSONL stay plain so that every reader takes them as they are (RFC 4180 with the header
row first; one passage per line, every line the same shape): their provenance travels beside
the file, as ``X-KB-*`` response headers and a JSON sidecar (:meth:`Provenance.sidecar`;
``kb export -o FILE`` writes ``FILE.provenance.json``), and inside it only when asked for
(``inline``: a first ``#`` comment row in CSV, a first ``{"type": "meta"}`` line in JSONL).
The other formats have a place for it: a ``meta`` member (JSON), a provenance sheet (XLSX), a
note per record (RIS/BibTeX).
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from kb.errors import InvalidInputError
from kb.search.types import Hit

FORMATS = ("csv", "json", "jsonl", "xlsx", "ris", "bibtex")

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ris": "application/x-research-info-systems",
    "bibtex": "application/x-bibtex; charset=utf-8",
}
EXTENSIONS = {"csv": "csv", "json": "json", "jsonl": "jsonl", "xlsx": "xlsx", "ris": "ris", "bibtex": "bib"}

# Columns of the tabular exports (CSV, XLSX), in order.
COLUMNS = ("passage_id", "doc_id", "title", "year", "format", "lang", "page_start", "page_end",
           "heading", "text", "score", "country", "region", "org", "person", "topic", "file")

# Spreadsheet programs evaluate cells starting with these characters (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CHUNK_ROWS = 200  # rows per yielded chunk: small enough for flat memory, big enough to be cheap
# Characters XML 1.0 (hence XLSX) cannot hold.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XLSX_CELL_MAX = 32767


@dataclass
class Provenance:
    """Where an export came from; written into every output."""

    query: str
    filters: dict[str, list[str]] = field(default_factory=dict)
    build_id: str | None = None
    exported_at: str = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0).isoformat())
    sort: str = "relevance"
    generator: str = "kb"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sidecar(self, fmt: str, **extra: Any) -> dict[str, Any]:
        """The provenance document kept beside an export (`FILE.provenance.json`, `meta=1`)."""
        out = {**self.to_dict(), "format": fmt}
        if fmt in ("csv", "jsonl", "xlsx", "json"):
            out["columns"] = list(COLUMNS)
        out.update(extra)
        return out

    def headers(self) -> dict[str, str]:
        """HTTP response headers carrying the provenance. Header values are Latin-1 only, so
        the query and the filter values are percent-encoded UTF-8."""
        filters = "; ".join(f"{k}={','.join(quote(x, safe='') for x in v)}"
                            for k, v in sorted(self.filters.items()) if v)
        return {"X-KB-Query": quote(self.query, safe=""), "X-KB-Filters": filters, "X-KB-Sort": self.sort,
                "X-KB-Index-Build": self.build_id or "unknown", "X-KB-Exported-At": self.exported_at}

    def line(self) -> str:
        """One human-readable line (RIS/BibTeX note, inline CSV comment row)."""
        filters = "; ".join(f"{k}={','.join(v)}" for k, v in sorted(self.filters.items()) if v) or "none"
        return (f"kb export of query {self.query!r}; filters: {filters}; sort: {self.sort}; "
                f"index build {self.build_id or 'unknown'}; exported {self.exported_at}")


def neutralise(value: str) -> str:
    """Prefix a cell a spreadsheet would evaluate as a formula with an apostrophe."""
    if value and value[0] in _FORMULA_START:
        return "'" + value
    return value


def hit_row(hit: Hit) -> dict[str, Any]:
    """The flat record every format is built from (no local paths: only the file name)."""
    ents = hit.entities or {}
    return {
        "passage_id": hit.passage_id, "doc_id": hit.doc_id, "title": hit.title, "year": hit.year,
        "format": hit.format, "lang": hit.lang, "page_start": hit.page_start, "page_end": hit.page_end,
        "heading": " › ".join(hit.heading_path or []), "text": hit.text,
        "score": round(float(hit.score), 4) if hit.score is not None else None,
        "country": list(ents.get("country", [])), "region": list(ents.get("region", [])),
        "org": list(ents.get("org", [])), "person": list(ents.get("person", [])),
        "topic": list(ents.get("topic", [])),
        "file": os.path.basename(hit.path or "") or None,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


def _capped(hits: Iterable[Hit], max_rows: int) -> Iterator[Hit]:
    for n, hit in enumerate(hits):
        if max_rows and n >= max_rows:
            return
        yield hit


# -- writers ------------------------------------------------------------------
def write_csv(hits: Iterable[Hit], prov: Provenance, bom: bool = False, inline: bool = False) -> Iterator[bytes]:
    """RFC 4180 (CRLF, quoted as needed), UTF-8, the header row first. `inline` asks for a
    first '#' provenance comment row, which only comment-aware readers skip."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if bom:
        buf.write("\ufeff")
    if inline:
        w.writerow(["# " + prov.line()])
    w.writerow(COLUMNS)
    for n, hit in enumerate(hits, 1):
        row = hit_row(hit)
        w.writerow([neutralise(_cell(row[c])) for c in COLUMNS])
        if n % _CHUNK_ROWS == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def write_jsonl(hits: Iterable[Hit], prov: Provenance, inline: bool = False) -> Iterator[bytes]:
    """One passage per line, every line the same keys (COLUMNS). `inline` asks for a first
    {"type": "meta", ...provenance} line."""
    lines = []
    if inline:
        lines.append(json.dumps({"type": "meta", **prov.to_dict(), "columns": list(COLUMNS)}, ensure_ascii=False))
    for hit in hits:
        lines.append(json.dumps(hit_row(hit), ensure_ascii=False))
        if len(lines) >= _CHUNK_ROWS:
            yield ("\n".join(lines) + "\n").encode("utf-8")
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode("utf-8")


def write_json(hits: Iterable[Hit], prov: Provenance) -> Iterator[bytes]:
    """{"meta": {...}, "results": [...], "count": N} written incrementally."""
    yield ('{"meta": ' + json.dumps(prov.to_dict(), ensure_ascii=False) + ', "results": [').encode("utf-8")
    n = 0
    parts: list[str] = []
    for hit in hits:
        parts.append(("," if n else "") + "\n" + json.dumps(hit_row(hit), ensure_ascii=False))
        n += 1
        if len(parts) >= _CHUNK_ROWS:
            yield "".join(parts).encode("utf-8")
            parts = []
    parts.append(f'\n], "count": {n}}}\n')
    yield "".join(parts).encode("utf-8")


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, (int, float)) or value is None:
        return value
    text = _XML_ILLEGAL.sub("", _cell(value))[:_XLSX_CELL_MAX]
    # openpyxl stores any string starting with "=" as a formula: neutralise like CSV.
    return neutralise(text)


def write_xlsx(hits: Iterable[Hit], prov: Provenance) -> Iterator[bytes]:
    """openpyxl write-only workbook (rows go to a temporary file, not memory); sheets
    'results' and 'provenance'. The finished file is then read back in chunks."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("results")
    ws.append(list(COLUMNS))
    n = 0
    for hit in hits:
        row = hit_row(hit)
        ws.append([_xlsx_cell(row[c]) for c in COLUMNS])
        n += 1
    meta = wb.create_sheet("provenance")
    for key, value in prov.to_dict().items():
        if key == "filters":
            value = json.dumps(value, ensure_ascii=False)
        meta.append([key, _xlsx_cell(value)])
    meta.append(["rows", n])
    fd, tmp = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        wb.save(tmp)
        with open(tmp, "rb") as fh:
            while chunk := fh.read(1 << 16):
                yield chunk
    finally:
        os.unlink(tmp)


def _page_ranges(pages: Iterable[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    out: list[str] = []
    run: list[int] = []
    for p in sorted(set(pages)):
        if run and p == run[-1] + 1:
            run.append(p)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [p]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(out)


def _by_document(hits: Iterable[Hit]) -> dict[str, dict[str, Any]]:
    """Group hits per document, keeping only what a citation needs (memory is per document,
    not per passage)."""
    docs: dict[str, dict[str, Any]] = {}
    for hit in hits:
        d = docs.get(hit.doc_id)
        if d is None:
            d = docs[hit.doc_id] = {"title": hit.title, "year": hit.year, "format": hit.format,
                                    "file": os.path.basename(hit.path or ""), "pages": set(),
                                    "passages": 0, "lang": hit.lang}
        d["passages"] += 1
        for p in (hit.page_start, hit.page_end):
            if p is not None:
                d["pages"].add(int(p))
        if hit.page_start is not None and hit.page_end is not None:
            d["pages"].update(range(int(hit.page_start), int(hit.page_end) + 1))
    return docs


_RIS_TYPES = {"pptx": "SLIDE", "html": "ELEC", "pdf": "RPRT", "docx": "RPRT"}


def _ris_value(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip()


def write_ris(hits: Iterable[Hit], prov: Provenance) -> Iterator[bytes]:
    """One RIS record per document with the pages of its matching passages."""
    for doc_id, d in _by_document(hits).items():
        lines = [f"TY  - {_RIS_TYPES.get(d['format'], 'GEN')}", f"ID  - {_ris_value(doc_id)}",
                 f"TI  - {_ris_value(d['title'] or d['file'] or doc_id)}"]
        if d["year"]:
            lines.append(f"PY  - {d['year']}")
        if d["lang"]:
            lines.append(f"LA  - {_ris_value(d['lang'])}")
        if d["pages"]:
            lines += [f"SP  - {min(d['pages'])}", f"EP  - {max(d['pages'])}"]
        pages = _page_ranges(d["pages"]) or "unpaged"
        lines.append(f"N1  - {d['passages']} matching passage(s) on pages: {pages}")
        lines.append(f"N1  - {_ris_value(prov.line())}")
        lines.append("ER  - ")
        yield ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


_BIB_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%",
                "&": r"\&", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_BIB_RE = re.compile("|".join(re.escape(k) for k in _BIB_SPECIAL))


def bib_escape(value: Any) -> str:
    return _BIB_RE.sub(lambda m: _BIB_SPECIAL[m.group(0)], re.sub(r"\s+", " ", str(value)).strip())


def write_bibtex(hits: Iterable[Hit], prov: Provenance) -> Iterator[bytes]:
    """One @misc/@techreport entry per document; the query is named in each note."""
    yield ("@comment{" + bib_escape(prov.line()) + "}\n\n").encode("utf-8")
    for doc_id, d in _by_document(hits).items():
        kind = "techreport" if d["format"] in ("pdf", "docx") else "misc"
        key = "kb:" + re.sub(r"[^A-Za-z0-9_\-:]", "_", doc_id)
        pages = _page_ranges(d["pages"])
        fields = [("title", d["title"] or d["file"] or doc_id)]
        if d["year"]:
            fields.append(("year", d["year"]))
        if kind == "techreport":
            fields.append(("institution", "unknown"))
        if pages:
            fields.append(("pages", pages.replace("-", "--")))
        fields.append(("note", f"{d['passages']} matching passage(s) on pages {pages or 'unpaged'}. {prov.line()}"))
        body = ",\n".join(f"  {k} = {{{bib_escape(v)}}}" for k, v in fields)
        yield f"@{kind}{{{key},\n{body}\n}}\n\n".encode()


_WRITERS: dict[str, Callable[..., Iterator[bytes]]] = {
    "csv": write_csv, "json": write_json, "jsonl": write_jsonl, "xlsx": write_xlsx,
    "ris": write_ris, "bibtex": write_bibtex,
}


def export(hits: Iterable[Hit], fmt: str, prov: Provenance, max_rows: int = 0, bom: bool = False,
           inline: bool = False) -> Iterator[bytes]:
    """Dispatch to one writer. ``max_rows`` 0 means every hit (the default: no cap);
    ``inline`` puts the provenance inside a CSV or JSONL file (the other formats always hold it)."""
    if fmt not in _WRITERS:
        raise InvalidInputError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    stream = _capped(hits, max_rows) if max_rows else iter(hits)
    if fmt == "csv":
        return write_csv(stream, prov, bom=bom, inline=inline)
    if fmt == "jsonl":
        return write_jsonl(stream, prov, inline=inline)
    return _WRITERS[fmt](stream, prov)


def build_id(index: Any) -> str | None:
    """The index's build id, whatever the backend calls it (None when it has none)."""
    value = getattr(index, "build_id", None)
    if callable(value):
        value = value()
    if value:
        return str(value)
    try:
        stats = index.stats()
    except Exception:  # noqa: BLE001 - an index without figures still exports; provenance says 'unknown'
        return None
    for key in ("build_id", "build", "generation", "version"):
        if stats.get(key) is not None:
            return str(stats[key])
    return None


def filename(query: str, fmt: str) -> str:
    """A safe download name: kb-export-<query words>.<ext>."""
    words = re.sub(r"[^A-Za-z0-9]+", "-", query).strip("-")[:40] or "all"
    return f"kb-export-{words}.{EXTENSIONS[fmt]}"
