"""Generators of hostile and well-formed test files, made at test time (nothing binary is
committed). Each hostile case is small on disk and aims at one way to take an ingest down:
inflate, entity expansion, recursion, page count, size, bad bytes, odd names, loops.

`hostile_cases(folder)` writes every case and returns {case name: path}.
"""
from __future__ import annotations

import io
import os
import random
import struct
import zlib
from functools import lru_cache
from pathlib import Path

MIB = 1 << 20
BOMB_MIB = 600  # inflated size of each zip bomb: above the default max_inflate_mb (512)


# -- zip plumbing -------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _spaces_deflate(mib: int = BOMB_MIB) -> bytes:
    """`mib` MiB of spaces as raw deflate blocks, sync-flushed (not final) so that other
    compressed parts can be appended; computed once per process (a few seconds)."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b" " * MIB
    out = [co.compress(chunk) for _ in range(mib)]
    out.append(co.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(out)


@lru_cache(maxsize=1)
def _spaces_checksums(mib: int = BOMB_MIB) -> tuple[int, int]:
    crc, adler = 0, 1
    chunk = b" " * MIB
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
        adler = zlib.adler32(chunk, adler)
    return crc, adler


class _RawZip:
    """A zip writer that accepts precompressed members (zipfile cannot), so one 600 MiB
    deflate stream is computed once and reused by every bomb."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.central: list[bytes] = []

    def add(self, name: str, data: bytes) -> None:
        co = zlib.compressobj(6, zlib.DEFLATED, -15)
        raw = co.compress(data) + co.flush()
        self._member(name, raw, zlib.crc32(data), len(data))

    def add_bomb(self, name: str, prefix: bytes, suffix: bytes, lie: bool = False) -> None:
        """prefix + BOMB_MIB MiB of spaces + suffix, deflated. With `lie` the headers
        declare 4 KiB, so a guard that trusts declared sizes lets it through."""
        co1 = zlib.compressobj(6, zlib.DEFLATED, -15)
        head = co1.compress(prefix) + co1.flush(zlib.Z_SYNC_FLUSH)
        co2 = zlib.compressobj(6, zlib.DEFLATED, -15)
        tail = co2.compress(suffix) + co2.flush()
        middle = _spaces_deflate()
        crc = zlib.crc32(prefix)
        chunk = b" " * MIB
        for _ in range(BOMB_MIB):
            crc = zlib.crc32(chunk, crc)
        crc = zlib.crc32(suffix, crc)
        size = 4096 if lie else len(prefix) + BOMB_MIB * MIB + len(suffix)
        self._member(name, head + middle + tail, crc, size)

    def _member(self, name: str, raw: bytes, crc: int, size: int) -> None:
        fname = name.encode()
        offset = self.buf.tell()
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(raw), size, len(fname), 0)
        self.buf.write(header + fname + raw)
        self.central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(raw),
                                        size, len(fname), 0, 0, 0, 0, 0, offset) + fname)

    def getvalue(self) -> bytes:
        start = self.buf.tell()
        cd = b"".join(self.central)
        self.buf.write(cd)
        self.buf.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(self.central), len(self.central),
                                   len(cd), start, 0))
        return self.buf.getvalue()


CT = b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
RELS_NS = b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
OD = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
W_NS = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _docx_skeleton(z: _RawZip) -> None:
    z.add("[Content_Types].xml", CT + b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          b'<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
          b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    z.add("_rels/.rels", RELS_NS + b'<Relationship Id="rId1" Type="' + OD + b'" Target="word/document.xml"/></Relationships>')


def docx_bomb(lie: bool = False) -> bytes:
    z = _RawZip()
    _docx_skeleton(z)
    z.add_bomb("word/document.xml", b'<?xml version="1.0" encoding="UTF-8"?><w:document ' + W_NS
               + b"><w:body><w:p><w:r><w:t>Bomb", b"</w:t></w:r></w:p></w:body></w:document>", lie=lie)
    return z.getvalue()


def pptx_bomb() -> bytes:
    z = _RawZip()
    z.add("[Content_Types].xml", CT + b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          b'<Default Extension="xml" ContentType="application/xml"/><Override PartName="/ppt/presentation.xml" '
          b'ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/>'
          b'<Override PartName="/ppt/slides/slide1.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/></Types>')
    z.add("_rels/.rels", RELS_NS + b'<Relationship Id="rId1" Type="' + OD + b'" Target="ppt/presentation.xml"/></Relationships>')
    z.add("ppt/_rels/presentation.xml.rels", RELS_NS + b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/'
          b'officeDocument/2006/relationships/slide" Target="slides/slide1.xml"/></Relationships>')
    z.add("ppt/presentation.xml", b'<?xml version="1.0"?><p:presentation xmlns:p="http://schemas.openxmlformats.org/'
          b'presentationml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
          b'<p:sldIdLst><p:sldId id="256" r:id="rId2"/></p:sldIdLst></p:presentation>')
    z.add_bomb("ppt/slides/slide1.xml", b'<?xml version="1.0"?><p:sld xmlns:p="http://schemas.openxmlformats.org/'
               b'presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld>'
               b"<p:spTree><p:sp><p:txBody><a:p><a:r><a:t>Bomb", b"</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>")
    return z.getvalue()


def xlsx_bomb() -> bytes:
    z = _RawZip()
    z.add("[Content_Types].xml", CT + b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          b'<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
          b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
    z.add("_rels/.rels", RELS_NS + b'<Relationship Id="rId1" Type="' + OD + b'" Target="xl/workbook.xml"/></Relationships>')
    z.add("xl/_rels/workbook.xml.rels", RELS_NS + b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
          b'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
    z.add("xl/workbook.xml", b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
          b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
          b'<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
    z.add_bomb("xl/worksheets/sheet1.xml", b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
               b'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Bomb',
               b"</t></is></c></row></sheetData></worksheet>")
    return z.getvalue()


def docx_billion_laughs() -> bytes:
    """word/document.xml declares the classic exponential entity and uses it."""
    ents = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    z = _RawZip()
    _docx_skeleton(z)
    z.add("word/document.xml", b'<?xml version="1.0"?><!DOCTYPE w:document [' + ents + b"]><w:document " + W_NS
          + b"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>")
    return z.getvalue()


# -- PDF plumbing -------------------------------------------------------------------------

def make_pdf(objects: list[bytes], streams: dict[int, bytes] | None = None) -> bytes:
    """A PDF whose object i+1 is objects[i] (object 1 is the catalog); `streams` maps an
    object number to raw stream bytes appended to that object's dictionary."""
    streams = streams or {}
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body)
        if i in streams:
            out.write(b"\nstream\n" + streams[i] + b"\nendstream")
        out.write(b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def text_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with the given lines in Helvetica (for well-formed controls)."""
    ops = b"BT /F1 12 Tf 72 720 Td 14 TL " + b" ".join(
        b"(" + ln.encode("latin-1").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b") '"
        for ln in lines) + b" ET"
    return make_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                     b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                     b"/Resources << /Font << /F1 5 0 R >> >> >>"),
                     b"<< /Length %d >>" % len(ops),
                     b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"], {4: ops})


def pdf_empty_pages(n: int = 3000) -> bytes:
    kids = b" ".join(b"%d 0 R" % (i + 3) for i in range(n))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n]
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"] * n
    return make_pdf(objs)


def pdf_deep_nesting(depth: int = 200_000) -> bytes:
    deep = b"[" * depth + b"]" * depth
    deep_dict = b"<< /A " * (depth // 4) + b"1" + b" >>" * (depth // 4)
    return make_pdf([b"<< /Type /Catalog /Pages 2 0 R /Deep 4 0 R /DeepDict 5 0 R >>",
                     b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Deep 4 0 R >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots 4 0 R /Resources 5 0 R >>",
                     deep, deep_dict])


def pdf_huge_stream() -> bytes:
    """A page whose content stream inflates to BOMB_MIB MiB, plus an object stream that
    claims ten million objects."""
    raw = _spaces_deflate()
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    tail = co.compress(b" BT ET") + co.flush()
    _crc_unused, adler = _spaces_checksums()
    adler = zlib.adler32(b" BT ET", adler)
    flate = b"\x78\x9c" + raw + tail + struct.pack(">I", adler)
    objstm = b"1 0 2 10 "
    return make_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                     b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
                     b"<< /Length %d /Filter /FlateDecode >>" % len(flate),
                     b"<< /Type /ObjStm /N 10000000 /First 9 /Length %d >>" % len(objstm)],
                    {4: flate, 5: objstm})


# -- the cases ------------------------------------------------------------------------------

def hostile_cases(folder: Path) -> dict[str, Path]:
    """Write every hostile case into `folder`; returns {case: path}. Odd names are
    created with bytes paths where str cannot express them."""
    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(7)
    cases: dict[str, Path] = {}

    def put(case: str, name: str, data: bytes) -> None:
        path = folder / name
        path.write_bytes(data)
        cases[case] = path

    put("zip-bomb DOCX (600 MiB inflate)", "bomb.docx", docx_bomb())
    put("zip-bomb PPTX (600 MiB inflate)", "bomb.pptx", pptx_bomb())
    put("zip-bomb XLSX (600 MiB inflate)", "bomb.xlsx", xlsx_bomb())
    put("zip-bomb DOCX whose headers lie (declare 4 KiB)", "bomb-lying.docx", docx_bomb(lie=True))
    put("billion-laughs XML part in DOCX", "laughs.docx", docx_billion_laughs())
    put("PDF, 200k-deep nested arrays/dicts", "deep.pdf", pdf_deep_nesting())
    put("PDF, 600 MiB content stream + 10M-object ObjStm", "hugestream.pdf", pdf_huge_stream())
    put("PDF, 3000 empty pages", "empty-pages.pdf", pdf_empty_pages())
    put("random bytes named .pdf", "random.pdf", rnd.randbytes(200_000))
    put("random bytes named .docx", "random.docx", rnd.randbytes(50_000))
    put("PDF truncated in the middle", "truncated.pdf", text_pdf(["Truncated"] * 40)[:400])
    put("0-byte file", "empty.pdf", b"")
    put("0-byte text file", "empty.txt", b"")
    sparse = folder / "sparse.pdf"
    with open(sparse, "wb") as f:
        f.truncate(3 * 1024 * MIB)  # 3 GiB, no blocks on disk
    cases["sparse 3 GiB file"] = sparse
    put("newline in file name", "line\nbreak.txt", b"Newline name: digital identity in Estonia.\n")
    raw_name = os.fsencode(folder) + b"/caf\xe9-latin1.txt"  # not valid UTF-8
    with open(raw_name, "wb") as f:
        f.write(b"Non-UTF-8 name: e-procurement in Kazakhstan.\n")
    cases["non-UTF-8 bytes in file name"] = Path(os.fsdecode(raw_name))
    put("255-byte file name", ("long-" * 60)[:250] + ".txt", b"Long name: open data in Uruguay.\n")
    loop = folder / "loop"
    loop.mkdir(exist_ok=True)
    try:
        (loop / "again").symlink_to(loop, target_is_directory=True)
        (folder / "self-link.txt").symlink_to(folder / "self-link.txt")
        cases["symlink loop (folder -> parent)"] = loop / "again"
        cases["self-referencing symlink"] = folder / "self-link.txt"
    except OSError:
        pass
    return cases


def good_docs(folder: Path, n: int = 12, tag: str = "good") -> dict[str, str]:
    """n small well-formed text documents, each with a unique marker word; returns
    {file name: marker}."""
    folder.mkdir(parents=True, exist_ok=True)
    topics = ["open government data", "e-participation", "digital identity", "e-procurement",
              "cloud computing", "broadband", "cybersecurity", "interoperability"]
    countries = ["Kazakhstan", "Chile", "Estonia", "Korea", "Uruguay", "Rwanda", "Mongolia", "Bhutan"]
    out = {}
    for i in range(n):
        marker = f"zq{tag}{i:03d}marker"
        name = f"{tag}-{i:03d}.md"
        body = (f"# {tag.title()} report {i}\n\n## {topics[i % len(topics)].title()}\n\n"
                f"{countries[i % len(countries)]} presented its work on {topics[i % len(topics)]} ({marker}). "
                + " ".join(f"Paragraph sentence {j} about {topics[(i + j) % len(topics)]}." for j in range(30))
                + "\n\n## Outcomes\n\n" + " ".join(f"Outcome {j} for {countries[(i + j) % 8]}." for j in range(30)) + "\n")
        (folder / name).write_text(body, encoding="utf-8")
        out[name] = marker
    return out
