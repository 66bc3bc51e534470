"""Split an extracted document into passages: paragraph-sized, never across a heading, a
table row never split, each carrying its heading path, page range and character offsets
into the document text.

The document text is the blocks' text joined by blank lines; a passage's text is exactly
``document_text[char_start:char_end]`` so highlights and offsets line up.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from kb.model import Block, Extracted, Passage

MIN_WORDS = 60  # a passage grows until it has at least this many words...
MAX_WORDS = 250  # ...and never past this, except for a single table row
BLOCK_SEP = "\n\n"

_SENTENCE_END = re.compile(r"(?<=[.!?…。])\s+(?=[\"'“(\[]?[A-Z0-9À-ÖØ-Þ\u0400-\u042f\u0600-\u06ff\u4e00-\u9fff])")


@dataclass
class _Piece:
    kind: str
    start: int
    end: int
    words: int
    page: int | None
    ocr: bool


@dataclass
class _Open:
    heading_path: list[str]
    pieces: list[_Piece] = field(default_factory=list)

    @property
    def words(self) -> int:
        return sum(p.words for p in self.pieces)


def document_text(blocks: list[Block]) -> tuple[str, list[tuple[int, int]]]:
    """The document's text and each block's (start, end) offsets in it."""
    spans: list[tuple[int, int]] = []
    parts: list[str] = []
    pos = 0
    for b in blocks:
        if parts:
            parts.append(BLOCK_SEP)
            pos += len(BLOCK_SEP)
        parts.append(b.text)
        spans.append((pos, pos + len(b.text)))
        pos += len(b.text)
    return "".join(parts), spans


def _word_count(text: str) -> int:
    n = len(text.split())
    # CJK text has no spaces: count characters / 2 as a rough word equivalent.
    cjk = sum(1 for ch in text if "\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af")
    return max(n, cjk // 2)


def _split_long(text: str, start: int) -> list[tuple[int, int]]:
    """Split a long paragraph at sentence ends into spans of at most MAX_WORDS words."""
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    spans: list[tuple[int, int]] = []
    cur_start, cur_words = 0, 0
    for a, b in pairwise(bounds):
        w = _word_count(text[a:b])
        if cur_words and cur_words + w > MAX_WORDS:
            spans.append((cur_start, a))
            cur_start, cur_words = a, 0
        cur_words += w
    spans.append((cur_start, len(text)))
    # A single sentence longer than MAX_WORDS is cut at word boundaries.
    out: list[tuple[int, int]] = []
    for a, b in spans:
        chunk = text[a:b]
        if _word_count(chunk) <= MAX_WORDS * 1.5:
            out.append((a, b))
            continue
        words = list(re.finditer(r"\S+", chunk))
        for i in range(0, len(words), MAX_WORDS):
            group = words[i:i + MAX_WORDS]
            out.append((a + group[0].start(), a + group[-1].end()))
    return [(start + a, start + b) for a, b in out if text[a:b].strip()]


def segment(doc_id: str, extracted: Extracted) -> tuple[str, list[Passage]]:
    blocks = [b for b in extracted.blocks if b.text and b.text.strip()]
    full, spans = document_text(blocks)
    passages: list[Passage] = []
    headings: list[str] = []
    current = _Open([])
    # The last heading while nothing has been written under it: a leaf section (a slide
    # with only a title, say) is still worth finding, so it becomes a passage of its own.
    empty_heading: tuple[Block, int, int, list[str]] | None = None

    def flush() -> None:
        nonlocal current
        if current.pieces:
            passages.append(_make_passage(doc_id, len(passages), full, current))
        current = _Open(list(headings))

    def emit_empty_heading() -> None:
        block, start, end, path = empty_heading  # type: ignore[misc]
        piece = _Piece(block.kind, start, end, _word_count(block.text), block.page, block.ocr)
        passages.append(_make_passage(doc_id, len(passages), full, _Open(path, [piece])))

    for block, (start, end) in zip(blocks, spans):
        if block.kind in ("heading", "title"):
            flush()
            level = block.level if block.kind == "heading" and block.level > 0 else 1
            if empty_heading is not None and level <= len(headings):
                emit_empty_heading()  # the empty section is a leaf: no deeper heading follows
            headings[:] = headings[: level - 1] + [block.text.strip()]
            current = _Open(list(headings))
            empty_heading = (block, start, end, list(headings))
            continue
        empty_heading = None
        words = _word_count(block.text)
        if block.kind != "table_row" and words > MAX_WORDS:
            flush()
            for a, b in _split_long(block.text, start):
                current.pieces.append(_Piece(block.kind, a, b, _word_count(full[a:b]), block.page, block.ocr))
                flush()
            continue
        if current.pieces:
            prev = current.pieces[-1]
            too_big = current.words + words > MAX_WORDS
            # Prefer to break at a page change or a switch between table rows and prose
            # once the passage is already a reasonable size.
            soft_break = current.words >= MIN_WORDS and (
                prev.page != block.page or (prev.kind == "table_row") != (block.kind == "table_row"))
            if too_big or soft_break:
                flush()
        current.pieces.append(_Piece(block.kind, start, end, words, block.page, block.ocr))
    flush()
    if empty_heading is not None:
        emit_empty_heading()
    return full, passages


def _make_passage(doc_id: str, ordinal: int, full: str, group: _Open) -> Passage:
    first, last = group.pieces[0], group.pieces[-1]
    kinds = [p.kind for p in group.pieces]
    pages = [p.page for p in group.pieces if p.page is not None]
    return Passage(
        doc_id=doc_id, ordinal=ordinal, text=full[first.start:last.end],
        heading_path=list(group.heading_path),
        page_start=min(pages) if pages else None, page_end=max(pages) if pages else None,
        char_start=first.start, char_end=last.end,
        # The commonest kind, ties to the first seen: max over a set broke ties by string hash,
        # which differs between processes (PYTHONHASHSEED), so Dask workers disagreed.
        kind=max(kinds, key=kinds.count), ocr=any(p.ocr for p in group.pieces))
