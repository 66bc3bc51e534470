"""HTML with BeautifulSoup + lxml: readable blocks without scripts, navigation or boilerplate."""
from __future__ import annotations

import re
import warnings
from typing import BinaryIO

from indexer.extract.encoding import decode
from kb.model import Block, Extracted

_DROP = ("script", "style", "nav", "header", "footer", "aside", "noscript", "form", "template", "svg",
         "iframe", "button", "select", "object", "canvas", "head")
# Class/id words that mark chrome rather than content (menus, cookie banners, share bars).
_BOILER = re.compile(r"(^|[-_ ])(nav|navbar|menu|breadcrumbs?|cookie|banner|footer|header|sidebar|share|"
                     r"social|skip|mw-jump|printfooter|catlinks|navbox|toc|mw-editsection|reference-edit)([-_ ]|$)",
                     re.IGNORECASE)
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_BLOCK_TAGS = {"p", "li", "tr", "pre", "blockquote", "dt", "dd", "caption", "figcaption", "td", "th", "div",
               "section", "article", "main", "table", "ul", "ol", "dl", "body", "center", "address"} | set(_HEADINGS)


def extract(stream: BinaryIO, password: str | None = None, limits: dict | None = None) -> Extracted:
    from bs4 import BeautifulSoup, Comment

    data = stream.read()
    text, encoding = decode(data, html=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # XHTML/XBRL pages trip bs4's "looks like XML" warning
        soup = BeautifulSoup(text, "lxml")
    title = None
    if soup.title and soup.title.string:
        title = " ".join(soup.title.string.split()) or None
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in soup.find_all(("script", "style", "noscript", "template", "head")):
        tag.decompose()
    total = len((soup.body or soup).get_text())
    for tag in soup.find_all(True):
        if getattr(tag, "decomposed", False) or tag.attrs is None:
            continue
        attrs = tag.attrs
        marks = " ".join(attrs.get("class") or []) + " " + str(attrs.get("id") or "") + " " + str(attrs.get("role") or "")
        hidden = "display:none" in str(attrs.get("style", "")).replace(" ", "") or attrs.get("aria-hidden") == "true"
        if hidden or tag.name in _DROP or (_BOILER.search(marks.strip()) and tag.name not in ("body", "main", "article", "html")):
            # Broken pages wrap everything in an unclosed <header>: never drop most of the page.
            if total > 500 and len(tag.get_text()) > 0.5 * total:
                tag.unwrap()
            else:
                tag.decompose()
    blocks: list[Block] = []
    root = soup.body or soup
    _walk(root, blocks)
    return Extracted(format="html", blocks=blocks, title=title, metadata={"encoding": encoding})


def _walk(node, blocks: list[Block]) -> None:
    from bs4 import NavigableString, Tag

    inline: list[str] = []

    def flush() -> None:
        text = " ".join("".join(inline).split())
        inline.clear()
        if text:
            blocks.append(Block("paragraph", text))

    for child in node.children:
        if isinstance(child, NavigableString):
            inline.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name in _HEADINGS:
            flush()
            text = _text(child)
            if text:
                blocks.append(Block("heading", text, level=_HEADINGS[name]))
        elif name == "pre":
            flush()
            text = child.get_text()
            for para in re.split(r"\n\s*\n", text):
                if para.strip():
                    blocks.append(Block("paragraph", "\n".join(l.rstrip() for l in para.strip("\n").splitlines()),
                                        meta={"pre": True}))
        elif name == "tr":
            flush()
            cells = [_text(c) for c in child.find_all(("td", "th"), recursive=False)]
            cells = [c for c in cells if c]
            if cells:
                blocks.append(Block("table_row", " | ".join(cells)))
        elif name == "li":
            flush()
            # A list item may nest a sub-list: its own text first, then the children.
            nested = child.find_all(("ul", "ol", "table"), recursive=False)
            if nested:
                own = " ".join(_text(c) if isinstance(c, Tag) else " ".join(str(c).split())
                               for c in child.children if not (isinstance(c, Tag) and c.name in ("ul", "ol", "table")))
                if own.strip():
                    blocks.append(Block("list_item", " ".join(own.split())))
                for sub in nested:
                    _walk(sub, blocks)
            else:
                text = _text(child)
                if text:
                    blocks.append(Block("list_item", text))
        elif name in ("caption", "figcaption"):
            flush()
            text = _text(child)
            if text:
                blocks.append(Block("caption", text))
        elif name == "br":
            flush()
        elif name in _BLOCK_TAGS or _has_block(child):
            flush()
            _walk(child, blocks)
        else:
            inline.append(" " + child.get_text(" ") + " " if name in ("td", "th") else child.get_text())
    flush()


def _has_block(tag) -> bool:
    return tag.find(tuple(_BLOCK_TAGS)) is not None


def _text(tag) -> str:
    return " ".join(tag.get_text(" ").split())
