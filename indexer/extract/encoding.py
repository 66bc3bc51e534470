"""Bytes to text for HTML and plain text: BOM, declared charset, then detection."""
from __future__ import annotations

import codecs
import re

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_XML = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)


def _norm(name: str) -> str | None:
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    # Browsers treat latin-1/ascii labels as windows-1252 (WHATWG); so do we.
    return "cp1252" if codec in ("latin-1", "iso8859-1", "ascii") else codec


def decode(data: bytes, html: bool = False) -> tuple[str, str]:
    """(text, encoding used)."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data.decode(enc, errors="replace"), enc.replace("-sig", "")
    if html:
        for rx in (_META, _XML):
            m = rx.search(data[:4096])
            if m:
                enc = _norm(m.group(1).decode("ascii", "ignore"))
                if enc and not enc.startswith("utf-16"):  # a utf-16 label on 8-bit bytes is a lie
                    try:
                        return data.decode(enc), enc
                    except UnicodeDecodeError:
                        break
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    enc = _norm(best.encoding) if best is not None else None
    # Western 8-bit text is far more often cp1252 than the Central European guesses.
    if enc is None or enc in ("cp1250", "iso8859-2", "mac-roman", "cp1251") and _cp1252_plausible(data):
        enc = "cp1252"
    return data.decode(enc, errors="replace"), enc


def _cp1252_plausible(data: bytes) -> bool:
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    high = [c for c in text if ord(c) > 127]
    common = set("éèêëàâäçîïôöûüùÿñáíóúÉÈÀÇÖÜÄßæøåÆØÅ’‘“”–—…€™©®°")
    return not high or sum(c in common for c in high) >= 0.6 * len(high)
