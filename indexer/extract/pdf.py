"""PDF extraction with pdfminer.six: one layout pass per page, then our own clean-up.

pdfminer groups characters into lines for us (LAParams with ``boxes_flow=None``, which skips
its costly box-ordering step); we order the lines ourselves (columns, then top to bottom),
merge fragments that sit on one visual row (sub/superscripts, inline maths), rebuild
paragraphs from vertical gaps, drop running headers/footers and page numbers, join
end-of-line hyphenation and guess headings from the font size.
"""
from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, BinaryIO

from indexer.extract import ocr
from indexer.extract.pdfmeta import read_info, read_outline
from kb.errors import EncryptedError, ExtractionError, NoTextLayerError, ResourceLimitError
from kb.model import Block, Extracted

_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_ROMAN = r"(?=[mdclxvi])m{0,3}(?:c[md]|d?c{0,3})(?:x[cl]|l?x{0,3})(?:i[xv]|v?i{0,3})"
_PAGE_NUMBER = re.compile(rf"^\s*[-–—]?\s*(?:(?:page|seite|p\.)\s*)?(?:\d{{1,4}}|{_ROMAN})"
                          r"(?:\s*(?:/|of|von)\s*\d{1,4})?\s*[-–—]?\s*$", re.IGNORECASE)
_LIST_MARK = re.compile(r"^\s*(?:[•◦▪‣·●○■□–—*-]|\(?[0-9a-zA-Z]{1,3}[.)]|\([ivx]{1,5}\))\s")


@dataclass
class _Row:
    """One visual line: pdfminer text lines sharing a baseline band, left to right."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    size: float = 0.0  # font size of the line's first character
    bold: bool = False

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def extract(stream: BinaryIO, password: str | None = None, limits: dict | None = None) -> Extracted:
    doc, pages = open_pages(stream, password, limits)
    rows, no_text, warnings = read_pages(pages, 1, len(pages))
    return finish(stream, doc, len(pages), rows, no_text, warnings, limits)


def open_pages(stream: BinaryIO, password: str | None = None, limits: dict | None = None) -> tuple[Any, list]:
    """The parsed document and its page objects; the page-count limit is checked here."""
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser

    limits = limits or {}
    max_pages = int(limits.get("max_pages") or 0)
    try:
        doc = PDFDocument(PDFParser(stream), password=password or "")
    except Exception as exc:  # pdfminer raises many unrelated types on bad bytes
        raise _open_error(exc, password) from exc
    try:
        pages = list(PDFPage.create_pages(doc))
    except Exception as exc:
        raise ExtractionError(f"malformed PDF: cannot read the page tree ({_short(exc)})") from exc
    if max_pages and len(pages) > max_pages:
        raise ResourceLimitError(f"PDF has {len(pages)} pages, more than the limit of {max_pages}")
    return doc, pages


def read_pages(pages: list, first: int, last: int, rsrc: Any = None) -> tuple[list[list[list[_Row]]], list[int], list[str]]:
    """The layout pass over pages first..last (1-based, inclusive): the expensive, per-page
    part of extraction. Returns rows per page (segments of rows), the numbers of the pages
    that hold images but no text, and warnings. Nothing here looks across pages, so page
    ranges read apart and concatenated equal one pass over the whole document. rsrc: the
    document's resource manager (fonts), when several ranges of it are read in turn."""
    from pdfminer.layout import LAParams

    from indexer.extract.pdffonts import ResourceManager

    # A low line_overlap keeps sub/superscripts and maths symbols on their text line.
    laparams = LAParams(boxes_flow=None, line_overlap=0.1)
    if rsrc is None:
        rsrc = ResourceManager(caching=True)  # one per document: fonts are parsed once
    page_rows: list[list[list[_Row]]] = []  # page -> columns/bands -> rows
    no_text: list[int] = []
    warnings: list[str] = []
    for number in range(first, last + 1):
        try:
            layout = _layout(pages[number - 1], laparams, rsrc)
        except Exception as exc:  # noqa: BLE001
            warnings.append(f"page {number}: unreadable ({_short(exc)})")
            page_rows.append([])
            continue
        lines, has_image = _collect(layout)
        if not lines:
            page_rows.append([])
            if has_image:
                no_text.append(number)
            continue
        page_rows.append(_order(lines, layout.width))
    return page_rows, no_text, warnings


def finish(stream: BinaryIO, doc: Any, page_count: int, page_rows: list[list[list[_Row]]], no_text: list[int],
           warnings: list[str], limits: dict | None = None) -> Extracted:
    """The whole-document decisions on the rows of every page: OCR of image-only files,
    running headers/footers, body and heading font sizes, paragraphs; then metadata."""
    limits = limits or {}
    unreadable = [w for w in warnings if "unreadable" in w]
    if not any(page_rows) and unreadable and not no_text:
        raise ExtractionError(f"malformed PDF: no page could be read ({unreadable[0]})")
    if not any(page_rows) and not no_text and page_count:
        # No text and no images: nothing to index and nothing to OCR (rendering thousands of
        # blank pages through tesseract would only burn the file's time budget).
        raise NoTextLayerError("no text layer: the pages hold neither text nor images")
    ocr_blocks: list[Block] = []
    if no_text:
        if not any(page_rows):
            if not limits.get("ocr", True):
                raise NoTextLayerError("no text layer (image-only PDF); OCR is turned off (KB_OCR)")
            if not ocr.available():
                raise NoTextLayerError("no text layer (image-only PDF); install tesseract for OCR")
            ocr_blocks = ocr.ocr_pdf_pages(stream, no_text)
        else:
            warnings.extend(f"page {n}: no text layer" for n in no_text)

    _drop_running_lines(page_rows)
    blocks = _paragraphs(page_rows) + ocr_blocks
    blocks.sort(key=lambda b: b.page or 0)
    info = read_info(doc)
    metadata: dict[str, Any] = {}
    outline = read_outline(doc)
    if outline:
        metadata["outline"] = outline
    if no_text and ocr_blocks:
        metadata["ocr_pages"] = no_text
    return Extracted(format="pdf", blocks=blocks, title=info.get("title"), authors=info.get("authors", []),
                     created=info.get("created"), modified=info.get("modified"), page_count=page_count,
                     metadata=metadata, warnings=warnings)


def _open_error(exc: Exception, password: str | None) -> ExtractionError:
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    if isinstance(exc, PDFPasswordIncorrect):
        if password:
            return EncryptedError("PDF is encrypted and the password given is wrong")
        return EncryptedError("PDF is encrypted; a password is needed (--password)")
    if isinstance(exc, PDFEncryptionError):
        return EncryptedError(f"PDF uses an unsupported encryption ({_short(exc)})")
    return ExtractionError(f"malformed PDF: {_short(exc)}")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


def _layout(page, laparams, rsrc):
    from pdfminer.converter import PDFPageAggregator

    from indexer.extract.pdffonts import Interpreter

    device = PDFPageAggregator(rsrc, laparams=laparams)
    Interpreter(rsrc, device).process_page(page)
    return device.get_result()


def _collect(layout) -> tuple[list[_Row], bool]:
    """Every horizontal text line on the page as a _Row; whether the page holds images."""
    from pdfminer.layout import LTFigure, LTImage, LTTextBox, LTTextLine

    rows: list[_Row] = []
    has_image = False
    stack = list(layout)
    while stack:
        obj = stack.pop()
        if isinstance(obj, LTTextBox):
            for line in obj:
                if isinstance(line, LTTextLine):
                    text = line.get_text().strip()
                    if text:
                        size, bold = _font(line)
                        if size < 0:
                            continue  # rotated text: margin stamps (arXiv ids), axis labels
                        rows.append(_Row(line.x0, line.y0, line.x1, line.y1, text.translate(_LIGATURES), size, bold))
        elif isinstance(obj, LTFigure):
            stack.extend(obj)
            has_image = True
        elif isinstance(obj, LTImage):
            has_image = True
    return rows, has_image


def _font(line) -> tuple[float, bool]:
    """Size and boldness of the line's first letter or digit (bullets use other fonts);
    size -1 marks rotated text. Looking at one character keeps this pass cheap."""
    first = None
    for ch in line:
        fontname = getattr(ch, "fontname", None)
        if fontname is None:
            continue
        text = ch.get_text()
        if first is None and not text.isspace():
            first = ch
        if text.isalnum():
            first = ch
            break
    if first is None:
        return 0.0, False
    if not getattr(first, "upright", True):
        return -1.0, False
    name = first.fontname.lower()
    return round(first.size, 1), "bold" in name or "black" in name or "heavy" in name


def _order(lines: list[_Row], width: float, depth: int = 0) -> list[list[_Row]]:
    """Split into reading-order segments (bands and columns), each a list of merged rows.

    Columns are found by recursive cuts: a vertical gutter splits the text in two, each
    side may split again (wide pages with three or four columns).
    """
    gutter = _gutter(lines, width) if depth < 4 else None
    if gutter is None:
        return [_merge_rows(lines)]
    # Lines crossing the gutter (titles, abstracts, full-width figures) cut the page into
    # bands; inside a band we read the left column, then the right one. Consecutive
    # spanning lines with no column text between them read as one full-width segment.
    segments: list[list[_Row]] = []
    spanning = sorted((ln for ln in lines if ln.x0 < gutter < ln.x1), key=lambda r: -r.y1)
    rest = [ln for ln in lines if not (ln.x0 < gutter < ln.x1)]
    centers = [float("inf")] + [(s.y0 + s.y1) / 2 for s in spanning] + [float("-inf")]
    pending: list[_Row] = []
    for k, (top, bottom) in enumerate(pairwise(centers)):
        band = [ln for ln in rest if bottom < (ln.y0 + ln.y1) / 2 <= top]
        if band:
            if pending:
                segments.append(_merge_rows(pending))
                pending = []
            left = [ln for ln in band if ln.x1 <= gutter]
            right = [ln for ln in band if ln.x0 >= gutter]
            for col in (left, right):
                if col:
                    segments.extend(_order(col, width, depth + 1))
        if k < len(spanning):
            pending.append(spanning[k])
    if pending:
        segments.append(_merge_rows(pending))
    return segments


def _gutter(lines: list[_Row], width: float) -> float | None:
    """An x position that (almost) no line crosses, with prose on both sides.

    Tried from the middle of the text outwards; each side needs a few lines of real
    width, so the cells of a table do not count as columns.
    """
    if len(lines) < 8 or width <= 0:
        return None
    x_lo = min(ln.x0 for ln in lines)
    x_hi = max(ln.x1 for ln in lines)
    span = x_hi - x_lo
    if span < 0.3 * width:
        return None
    best = None
    for step in range(10, 91, 2):
        x = x_lo + span * step / 100
        crossing = sum(1 for ln in lines if ln.x0 < x < ln.x1)
        if crossing > 0.1 * len(lines):
            continue
        left = [ln.x1 - ln.x0 for ln in lines if ln.x1 <= x]
        right = [ln.x1 - ln.x0 for ln in lines if ln.x0 >= x]
        if len(left) < 4 or len(right) < 4:
            continue
        if statistics.median(left) < 0.1 * width or statistics.median(right) < 0.1 * width:
            continue
        score = (crossing, abs(step - 50))
        if best is None or score < best[0]:
            best = (score, x)
    return None if best is None else best[1]


def _merge_rows(lines: list[_Row]) -> list[_Row]:
    """Top to bottom; fragments overlapping vertically with a row join it, left to right."""
    lines = sorted(lines, key=lambda r: (-r.y1, r.x0))
    rows: list[list[_Row]] = []
    for ln in lines:
        if rows:
            cur = rows[-1]
            top = max(r.y1 for r in cur)
            bottom = min(r.y0 for r in cur)
            overlap = min(top, ln.y1) - max(bottom, ln.y0)
            if overlap > 0.5 * min(ln.height, top - bottom) and not any(_hoverlap(r, ln) for r in cur):
                cur.append(ln)
                continue
        rows.append([ln])
    merged = []
    for parts in rows:
        parts.sort(key=lambda r: r.x0)
        text = parts[0].text
        for prev, part in pairwise(parts):
            gap = part.x0 - prev.x1
            text += ("" if gap < 0.15 * max(part.height, 1) else " ") + part.text
        main = max(parts, key=lambda p: len(p.text))
        merged.append(_Row(min(p.x0 for p in parts), min(p.y0 for p in parts), max(p.x1 for p in parts),
                           max(p.y1 for p in parts), text, main.size, main.bold))
    return merged


def _hoverlap(a: _Row, b: _Row) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > 1


def _norm_running(text: str) -> str:
    # Letters only: "4 1.1. TOPOLOGISCHE RÄUME" and "1.1. TOPOLOGISCHE RÄUME 5" are one header.
    return "".join(ch for ch in text.lower() if ch.isalpha())


_EDGE_NUMBER = re.compile(r"^\s*(\d{1,4})\s+\S|\S\s+(\d{1,4})\s*$")


def _drop_running_lines(page_rows: list[list[list[_Row]]]) -> None:
    """Remove page numbers and lines repeating at the top or bottom of many pages.

    A top/bottom line is running when its letters repeat there on many pages, or when it
    starts/ends with a number that advances with the page index (the printed page number:
    the same offset from the page index on several pages).
    """
    edges: list[tuple[int, str, _Row]] = []
    for pno, segments in enumerate(page_rows):
        rows = [r for seg in segments for r in seg]
        if not rows:
            continue
        top = max(rows, key=lambda r: r.y1)
        bottom = min(rows, key=lambda r: r.y0)
        for row in {id(top): top, id(bottom): bottom}.values():
            edges.append((pno, _norm_running(row.text), row))
    counts = Counter(key for _, key, _ in edges if key)
    offsets: Counter = Counter()
    edge_offset: dict[int, int] = {}
    for pno, _, row in edges:
        m = _EDGE_NUMBER.search(row.text)
        if m and len(row.text) < 120:
            offset = int(m.group(1) or m.group(2)) - pno
            offsets[offset] += 1
            edge_offset[id(row)] = offset
    pages_with_text = sum(1 for p in page_rows if p)
    threshold = max(3, pages_with_text // 5)
    doomed = set()
    for _, key, row in edges:
        if _PAGE_NUMBER.match(row.text) or pages_with_text >= 4 and key and counts[key] >= threshold and len(row.text) < 120 or pages_with_text >= 4 and id(row) in edge_offset and offsets[edge_offset[id(row)]] >= threshold:
            doomed.add(id(row))
    if not doomed:
        return
    for segments in page_rows:
        for i, seg in enumerate(segments):
            segments[i] = [r for r in seg if id(r) not in doomed]


def _paragraphs(page_rows: list[list[list[_Row]]]) -> list[Block]:
    sizes: Counter = Counter()
    for segs in page_rows:
        for seg in segs:
            for r in seg:
                sizes[r.size] += len(r.text)
    total = sum(sizes.values())
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    # Heading sizes: clearly larger than the body and rare (headings are a small share of
    # the text); the three largest such sizes become levels 1-3. Only when the body size
    # clearly dominates are sizes trusted at all.
    reliable = bool(total) and sizes[body] >= 0.4 * total
    heading_sizes = sorted((sz for sz, n in sizes.items() if body and sz >= body * 1.15 and n <= 0.1 * total),
                           reverse=True)[:3]
    blocks: list[Block] = []
    for pno, segments in enumerate(page_rows, start=1):
        for seg in segments:
            gaps = [a.y0 - b.y1 for a, b in pairwise(seg) if a.y0 - b.y1 > -1]
            typical = statistics.median(gaps) if gaps else 0.0
            para: list[_Row] = []
            for row in seg:
                if para and _breaks(para[-1], row, typical, body):
                    blocks.append(_block(para, pno, body, heading_sizes, reliable))
                    para = []
                para.append(row)
            if para:
                blocks.append(_block(para, pno, body, heading_sizes, reliable))
    return [b for b in blocks if b.text]


def _breaks(prev: _Row, row: _Row, typical_gap: float, body: float) -> bool:
    gap = prev.y0 - row.y1
    h = max(min(prev.height, row.height), 1.0)
    if gap > max(typical_gap * 1.8, 0.5 * h) or gap < -h:
        return True
    if body and abs(prev.size - row.size) > 0.15 * max(prev.size, row.size, 1) and len(prev.text) > 3:
        return True  # font size change: a heading ends or starts
    if prev.bold != row.bold and not _LIST_MARK.match(prev.text) and (
            prev.bold and len(prev.text.split()) <= 12 or row.bold and len(row.text.split()) <= 12):
        return True  # a bold run-in line (a heading in body size)
    return bool(_LIST_MARK.match(row.text))


def _block(rows: list[_Row], page: int, body: float, heading_sizes: list[float], reliable: bool) -> Block:
    text = rows[0].text
    for row in rows[1:]:
        text = _join(text, row.text)
    text = _clean(text)
    size = max(r.size for r in rows)
    words = len(text.split())
    headline = (words <= 15 and not text.endswith((".", ",", ";")) and any(c.isalpha() for c in text)
                and not _LIST_MARK.match(text))
    if reliable and headline and size in heading_sizes:
        return Block("heading", text, page=page, level=heading_sizes.index(size) + 1)
    if reliable and headline and len(rows) <= 2 and all(r.bold for r in rows) and abs(size - body) < 0.15 * body:
        return Block("heading", text, page=page, level=len(heading_sizes) + 1)
    kind = "list_item" if _LIST_MARK.match(text) else "paragraph"
    return Block(kind, text, page=page)


_CID = re.compile(r"\(cid:\d+\)")


def _clean(text: str) -> str:
    # (cid:N) is pdfminer's placeholder for a glyph it cannot map: noise for search.
    text = _CID.sub("", text) if "(cid:" in text else text
    if "\u0338" in text:  # TeX draws "≠" as a slash over "="
        text = re.sub("\u0338\\s*=", "≠", text).replace("\u0338", "")
    # Keep the PDF's line breaks inside a paragraph (as pdftotext does): whitespace is
    # whitespace to search, and the text stays comparable with the page.
    return "\n".join(" ".join(line.split()) for line in text.split("\n") if line.strip())


def _join(left: str, right: str) -> str:
    """Join two lines of one paragraph, undoing end-of-line hyphenation."""
    if left.endswith("-") and len(left) >= 2 and left[-2].isalpha() and right[:1].isalpha():
        word = re.search(r"(\w+)-$", left)
        # "infor-" + "mation" -> "information"; keep "e-" + "government" and "Schwarz-" + "Weiß".
        if right[0].islower() and word and len(word.group(1)) > 1:
            return left[:-1] + right
        return left + right
    if _CJK.match(left[-1:]) and _CJK.match(right[:1]):
        return left + right  # Chinese and Japanese put no spaces between words
    return left + "\n" + right


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
