"""Metadata sidecars: what a curator knows about a file that the file does not say.

Two forms, both optional, both read by `kb ingest`:

- ``metadata.csv`` or ``metadata.jsonl`` in a folder: one row per file of that folder (or of
  a sub-folder), keyed by ``file`` (a path relative to the folder, or a bare file name);
- ``FILE.meta.json`` beside a file: one object for that file; it wins over the folder table.

Fields: ``title``, ``date`` (YYYY, YYYY-MM or YYYY-MM-DD), ``authors`` (with ``role``, ``post``,
``country``, ``affiliation``), ``country`` (ISO 3166 alpha-3), ``collection``, ``source_url``,
``language``, ``tags``, and for a record collection (CSV/JSONL) ``map`` (``text=abstract,id=doi``).
These names are reserved: a sidecar is never ingested as a document. A bad row is reported
with a one-line reason naming the file and the row; the file it names is still ingested,
with what extraction found.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import date as _date
from pathlib import Path
from typing import Any

from kb.errors import InvalidInputError

FOLDER_SIDECARS = ("metadata.csv", "metadata.jsonl")
FILE_SIDECAR_SUFFIX = ".meta.json"
FIELDS = ("title", "date", "authors", "country", "collection", "source_url", "language", "tags", "map")
# What a record collection's columns may be mapped onto (kb.model.Record and its metadata).
MAP_TARGETS = ("id", "text", "title", "year", "date", "authors", "tags", "url", "country")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_LANG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
_MAX_SIDECAR_BYTES = 32 << 20  # a sidecar is a table of metadata, not a corpus


class SidecarError(InvalidInputError):
    code = "invalid_metadata"


@dataclass
class Author:
    name: str
    role: str | None = None  # e.g. speaker, editor
    post: str | None = None  # e.g. Deputy Prime Minister
    country: str | None = None  # ISO3
    affiliation: str | None = None  # organisation name or id


@dataclass
class DocMeta:
    title: str | None = None
    date: str | None = None
    authors: list[Author] = field(default_factory=list)
    country: str | None = None
    collection: str | None = None
    source_url: str | None = None
    language: str | None = None
    tags: list[str] = field(default_factory=list)
    map: dict[str, str] = field(default_factory=dict)

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocMeta:
        return cls(**{**data, "authors": [Author(**a) for a in data.get("authors") or []]})

    def merged_over(self, base: DocMeta | None) -> DocMeta:
        """This sidecar's fields over `base` (a folder row under a FILE.meta.json)."""
        if base is None:
            return self
        out = DocMeta(**{k: getattr(base, k) for k in FIELDS})
        for k in FIELDS:
            v = getattr(self, k)
            if v:
                setattr(out, k, v)
        return out

    def fingerprint(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def is_sidecar(path: str | Path) -> bool:
    """True for the reserved names: never ingested as documents."""
    name = Path(path).name
    return name.lower() in FOLDER_SIDECARS or name.lower().endswith(FILE_SIDECAR_SUFFIX)


def parse_map(value: Any, where: str) -> dict[str, str]:
    """'text=abstract,id=doi' (or a JSON object) -> {target: column}."""
    if not value:
        return {}
    pairs = value.items() if isinstance(value, dict) else (
        p.split("=", 1) if "=" in p else (p, "") for p in str(value).split(",") if p.strip())
    out: dict[str, str] = {}
    for target, column in pairs:
        target, column = str(target).strip(), str(column).strip()
        if target not in MAP_TARGETS or not column:
            raise SidecarError(f"{where}: map entry {target}={column!r} must be TARGET=COLUMN "
                               f"with TARGET one of {', '.join(MAP_TARGETS)}")
        out[target] = column
    return out


def _text(value: Any, name: str, where: str, limit: int = 500) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int, float)):
        raise SidecarError(f"{where}: {name} must be text, not {type(value).__name__}")
    text = " ".join(str(value).split())
    if len(text) > limit:
        raise SidecarError(f"{where}: {name} is longer than {limit} characters")
    return text or None


def _country(value: Any, name: str, where: str) -> str | None:
    code = _text(value, name, where)
    if code is None:
        return None
    import pycountry

    if not re.fullmatch(r"[A-Za-z]{3}", code) or pycountry.countries.get(alpha_3=code.upper()) is None:
        raise SidecarError(f"{where}: {name} {code!r} is not an ISO 3166 alpha-3 code (e.g. KAZ)")
    return code.upper()


def _date_value(value: Any, where: str) -> str | None:
    text = _text(value, "date", where)
    if text is None:
        return None
    m = _DATE.match(text)
    try:
        if m is None:
            raise ValueError
        _date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        raise SidecarError(f"{where}: date {text!r} is not YYYY, YYYY-MM or YYYY-MM-DD") from None
    if not 1900 <= int(m.group(1)) <= 2100:
        raise SidecarError(f"{where}: date {text!r} is outside 1900-2100")
    return text


def _authors(value: Any, where: str) -> list[Author]:
    """A list of names or objects; in a CSV cell, 'Name | role | post; Name | role | post'."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        items: list[Any] = []
        for entry in value.split(";"):
            parts = [p.strip() for p in entry.split("|")]
            if parts[0]:
                items.append(dict(zip(("name", "role", "post", "country", "affiliation"), parts)))
    elif isinstance(value, list):
        items = value
    else:
        raise SidecarError(f"{where}: authors must be a list or 'Name | role | post; …'")
    out = []
    for item in items:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not _text(item.get("name"), "author name", where):
            raise SidecarError(f"{where}: every author needs a name")
        unknown = set(item) - {"name", "role", "post", "country", "affiliation"}
        if unknown:
            raise SidecarError(f"{where}: unknown author field {min(unknown)!r}")
        out.append(Author(name=_text(item["name"], "author name", where) or "",
                          role=_text(item.get("role"), "author role", where),
                          post=_text(item.get("post"), "author post", where),
                          country=_country(item.get("country"), "author country", where),
                          affiliation=_text(item.get("affiliation"), "author affiliation", where)))
    return out


def _tags(value: Any, where: str) -> list[str]:
    if value in (None, ""):
        return []
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise SidecarError(f"{where}: tags must be a list or 'a; b'")
    return [t for t in (_text(v, "tag", where, 100) for v in items) if t]


def parse_entry(obj: dict[str, Any], where: str) -> DocMeta:
    """One row or object -> DocMeta; SidecarError names `where` and the bad field."""
    unknown = sorted(k for k in obj if k not in FIELDS and k not in ("file", "path"))
    if unknown:
        raise SidecarError(f"{where}: unknown field {unknown[0]!r} (known: file, {', '.join(FIELDS)})")
    url = _text(obj.get("source_url"), "source_url", where, 2000)
    if url and not re.match(r"^https?://[^\s/]+", url):
        raise SidecarError(f"{where}: source_url {url!r} is not an http(s) address")
    lang = _text(obj.get("language"), "language", where, 20)
    if lang and not _LANG.match(lang):
        raise SidecarError(f"{where}: language {lang!r} is not a language code (e.g. en, fr, pt-BR)")
    return DocMeta(title=_text(obj.get("title"), "title", where), date=_date_value(obj.get("date"), where),
                   authors=_authors(obj.get("authors"), where),
                   country=_country(obj.get("country"), "country", where),
                   collection=_text(obj.get("collection"), "collection", where, 200),
                   source_url=url, language=lang, tags=_tags(obj.get("tags"), where),
                   map=parse_map(obj.get("map"), where))


def _read(path: Path) -> str:
    from indexer.extract.encoding import decode

    if path.stat().st_size > _MAX_SIDECAR_BYTES:
        raise SidecarError(f"{path.name}: over {_MAX_SIDECAR_BYTES >> 20} MiB")
    return decode(path.read_bytes())[0]


def read_folder_table(path: Path) -> tuple[dict[str, tuple[DocMeta, str]], list[str]]:
    """metadata.csv / .jsonl -> ({file key: (meta, where)}, one-line errors)."""
    rows: list[tuple[dict[str, Any], str]] = []
    errors: list[str] = []
    text = _read(path)
    if path.name.lower().endswith(".jsonl"):
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{path.name} line {n}: not JSON ({exc.msg})")
                continue
            if not isinstance(obj, dict):
                errors.append(f"{path.name} line {n}: not an object")
                continue
            rows.append((obj, f"{path.name} line {n}"))
    else:
        reader = csv.DictReader(io.StringIO(text))
        header = [(h or "").strip() for h in reader.fieldnames or []]
        unknown = [h for h in header if h not in FIELDS and h not in ("file", "path")]
        if unknown:
            # one error for the header, not one per row: the known columns still apply
            errors.append(f"{path.name} header: unknown column {unknown[0]!r} ignored "
                          f"(known: file, {', '.join(FIELDS)})")
        try:
            for row in reader:
                extra = row.pop(None, None)  # cells beyond the header
                where = f"{path.name} row {reader.line_num}"
                if extra:
                    errors.append(f"{where}: {len(extra)} cell(s) more than the header has")
                    continue
                rows.append(({(k or "").strip(): v for k, v in row.items() if (k or "").strip() not in unknown},
                             where))
        except csv.Error as exc:
            errors.append(f"{path.name} row {reader.line_num}: malformed CSV ({exc})")
    table: dict[str, tuple[DocMeta, str]] = {}
    for obj, where in rows:
        key = str(obj.get("file") or obj.get("path") or "").strip().replace("\\", "/")
        if not key:
            errors.append(f"{where}: no 'file' column value (the file name or path the row describes)")
            continue
        try:
            table[key] = (parse_entry(obj, where), where)
        except SidecarError as exc:
            errors.append(str(exc))
    return table, errors


class Sidecars:
    """The sidecars seen by one ingest run; each folder table is read once."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, tuple[DocMeta, str]]] = {}
        self.errors: list[tuple[str, str]] = []  # (sidecar path, one-line reason)
        self.used: set[tuple[str, str]] = set()

    def _table(self, folder: str) -> dict[str, tuple[DocMeta, str]]:
        if folder not in self._tables:
            merged: dict[str, tuple[DocMeta, str]] = {}
            for name in FOLDER_SIDECARS:
                path = Path(folder) / name
                try:
                    present = path.is_file()
                except OSError:
                    present = False
                if present:
                    try:
                        table, errors = read_folder_table(path)
                    except (OSError, SidecarError) as exc:
                        table, errors = {}, [str(exc) if isinstance(exc, SidecarError) else f"{name}: {exc}"]
                    merged.update({k: (m, str(path)) for k, (m, _) in table.items()})
                    self.errors += [(str(path), e) for e in errors]
            self._tables[folder] = merged
        return self._tables[folder]

    def for_file(self, path: str | Path, roots: list[str] | None = None) -> DocMeta | None:
        """The metadata for one file: folder tables from its own folder up to its ingest root
        (nearest wins), then FILE.meta.json over them."""
        path = os.path.abspath(path)
        found: DocMeta | None = None
        folder = os.path.dirname(path)
        top = max((r for r in roots or [] if path.startswith(r.rstrip(os.sep) + os.sep)), key=len,
                  default=folder)
        while True:
            table = self._table(folder)
            rel = os.path.relpath(path, folder).replace(os.sep, "/")
            hit = table.get(rel) or table.get(os.path.basename(path))
            if hit is not None:
                self.used.add((hit[1], rel if rel in table else os.path.basename(path)))
                found = hit[0]
                break
            if folder == top or os.path.dirname(folder) == folder or not folder.startswith(top):
                break
            folder = os.path.dirname(folder)
        side = Path(path + FILE_SIDECAR_SUFFIX)
        try:
            beside = side.is_file()
        except OSError:  # e.g. a 255-byte file name leaves no room for ".meta.json"
            beside = False
        if beside:
            try:
                obj = json.loads(_read(side))
                if not isinstance(obj, dict):
                    raise SidecarError(f"{side.name}: not a JSON object")
                found = parse_entry(obj, side.name).merged_over(found)
            except (OSError, ValueError, SidecarError) as exc:
                reason = str(exc) if isinstance(exc, SidecarError) else f"{side.name}: not valid JSON ({exc})"
                self.errors.append((str(side), reason))
        return found

    def record_problems(self, catalog: Any, run_id: int | None,
                        dir_roots: list[str]) -> tuple[list[dict[str, str]], list[str]]:
        """Bad sidecar rows become catalog failures named by file and row (the files they
        describe were ingested without them); the failures of the sidecars read this run are
        cleared first, so a fixed row clears its own. Rows naming no ingested file under a
        folder that was ingested are warnings. Returns (failures, warnings)."""
        seen = {p for p, _ in self.errors} | set(self._tables)
        failures = []
        with catalog.transaction():
            for path in catalog.failure_paths_with_prefix(tuple(seen)):
                catalog.clear_failure(path)
            for path, reason in self.errors:
                where = reason.split(":", 1)[0]
                key = path if where == Path(path).name else f"{path}#{where.split(' ', 1)[-1]}"
                catalog.record_failure(key, None, "invalid_metadata", reason, run_id)
                failures.append({"path": key, "code": "invalid_metadata", "reason": reason})
        warnings = [reason for sidecar, reason in self.unused_rows()
                    if any(sidecar.startswith(r.rstrip(os.sep) + os.sep) for r in dir_roots)]
        return failures, warnings

    def unused_rows(self) -> list[tuple[str, str]]:
        """Rows naming no file that was ingested (a typo in a file name, a missing file)."""
        out = []
        for folder, table in self._tables.items():
            for key, (_, sidecar) in table.items():
                if (sidecar, key) not in self.used:
                    out.append((sidecar, f"{Path(sidecar).name}: no file {key!r} was ingested from {folder}"))
        return out


def record_sidecar(rec: Any, side: DocMeta | None) -> None:
    """The metadata one record of a collection ends with: the collection's sidecar (its
    collection, tags, country, language) under the record's own authors, date and URL. Kept in
    ``rec.metadata["_sidecar"]`` so it counts in the record's id (a sidecar change rebuilds)."""
    meta = rec.metadata
    date = str(meta.get("date") or meta.get("year") or "").strip()
    own = DocMeta(date=date if _DATE.match(date) else None,
                  authors=[Author(name=n) for n in meta.get("authors") or [] if str(n).strip()],
                  source_url=meta.get("source_url"), tags=list(meta.get("tags") or []))
    merged = own.merged_over(DocMeta(**{**(side.to_dict() if side else {}), "title": None, "map": {},
                                        "authors": list(side.authors) if side else []}))
    if side is not None and side.tags:
        merged.tags = list(dict.fromkeys([*side.tags, *own.tags]))
    if merged != DocMeta():
        meta["_sidecar"] = merged.to_dict()
