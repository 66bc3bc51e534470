"""Plain text and Markdown: encoding detected; Markdown headings, pipe tables and lists kept."""
from __future__ import annotations

import re
from typing import BinaryIO

from indexer.extract.encoding import decode
from kb.model import Block, Extracted

_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_LIST = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+(.*)$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_INLINE = [(re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"), (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
           (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"), (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)"), r"\1"),
           (re.compile(r"`([^`]+)`"), r"\1"), (re.compile(r"<[^>\n]+>"), "")]


def extract(stream: BinaryIO, password: str | None = None, limits: dict | None = None, fmt: str = "txt") -> Extracted:
    text, encoding = decode(stream.read())
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    blocks = _markdown(text) if fmt == "md" else _plain(text)
    title = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), None) if fmt == "md" else None
    return Extracted(format=fmt, blocks=blocks, title=title, metadata={"encoding": encoding})


def _plain(text: str) -> list[Block]:
    blocks = []
    for para in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in para.splitlines() if ln.strip()]
        if not lines:
            continue
        if all(_LIST.match(ln) for ln in lines):
            blocks.extend(Block("list_item", ln) for ln in lines)
        else:
            blocks.append(Block("paragraph", " ".join(lines)))
    return blocks


def _inline(text: str) -> str:
    for rx, repl in _INLINE:
        text = rx.sub(repl, text)
    return " ".join(text.split())


def _cells(line: str) -> list[str]:
    line = line.strip()
    line = line.removeprefix("|")
    line = line.removesuffix("|")
    return [_inline(c) for c in re.split(r"(?<!\\)\|", line)]


def _guess_heading(raw: str, text: str, nlines: int) -> tuple:
    """Converted reports often mark headings only as a lone short line or a bold paragraph."""
    if re.fullmatch(r"\s*(\*\*|__)[^*_]+\1\s*", raw) and len(text.split()) <= 30:
        return "heading", text, None, 1
    if (nlines == 1 and len(text.split()) <= 12 and text[:1].isupper() and not text.endswith((".", ",", ";", ":"))):
        return "heading", text, None, 2
    return "paragraph", text


def _markdown(text: str) -> list[Block]:
    blocks: list[Block] = []
    para: list[str] = []
    lines = text.split("\n")

    def flush() -> None:
        if para:
            raw = " ".join(para)
            joined = _inline(raw)
            if joined:
                blocks.append(Block(*_guess_heading(raw, joined, len(para))))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _FENCE.match(line):
            flush()
            fence = _FENCE.match(line).group(1)
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i])
                i += 1
            if any(b.strip() for b in body):
                blocks.append(Block("paragraph", "\n".join(body).strip("\n"), meta={"pre": True}))
            i += 1
            continue
        m = _ATX.match(line)
        if m:
            flush()
            heading = _inline(m.group(2))
            if heading:
                blocks.append(Block("heading", heading, level=len(m.group(1))))
            i += 1
            continue
        if line.strip() and not para and _SETEXT.match(nxt) and not _LIST.match(line) and "|" not in line:
            blocks.append(Block("heading", _inline(line), level=1 if nxt.strip().startswith("=") else 2))
            i += 2
            continue
        if "|" in line and _TABLE_SEP.match(nxt):
            flush()
            header = _cells(line)
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                cells = _cells(lines[i])
                # Each row is one unit, its cells named by the header: "Name: X | Org: Y".
                pairs = [f"{h}: {c}" if h else c for h, c in zip(header + [""] * len(cells), cells) if c]
                if pairs:
                    blocks.append(Block("table_row", " | ".join(pairs), meta={"header": header}))
                i += 1
            continue
        lm = _LIST.match(line)
        if lm:
            flush()
            item = [lm.group(1)]
            i += 1
            # Continuation lines are indented and not a new item.
            while i < len(lines) and lines[i].strip() and lines[i].startswith((" ", "\t")) and not _LIST.match(lines[i]):
                item.append(lines[i].strip())
                i += 1
            text_item = _inline(" ".join(item))
            if text_item:
                blocks.append(Block("list_item", text_item))
            continue
        if not line.strip():
            flush()
        elif re.match(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$", line):
            flush()  # thematic break
        else:
            para.append(line.strip().lstrip(">").strip())
        i += 1
    flush()
    return blocks
