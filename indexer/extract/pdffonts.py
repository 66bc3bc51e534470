"""A pdfminer resource manager that reads the built-in encoding of compact (CFF) Type 1 fonts.

pdfminer recovers a missing /Encoding from embedded Type 1 font programs (/FontFile) but not
from compact ones (/FontFile3, "Type1C"), which pdfTeX and many compressors produce. It then
falls back to StandardEncoding, so TeX maths comes out as digits and punctuation
("∀" as "8", "∅" as ";"). Reading the glyph names from the CFF charset fixes that.
"""
from __future__ import annotations

from io import BytesIO
from typing import Any

from pdfminer.encodingdb import name2unicode
from pdfminer.pdffont import CFFFont, PDFType1Font
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdftypes import dict_value, resolve1, stream_value
from pdfminer.psparser import literal_name

# TeX font glyph names missing from the Adobe Glyph List. Extensible pieces of big
# delimiters map to nothing: they are drawing parts, not characters.
_TEX_GLYPHS = {
    "negationslash": "\u0338", "reflexsubset": "⊆", "reflexsuperset": "⊇", "owner": "∋",
    "mapsto": "↦", "bardbl": "‖", "openbullet": "◦", "asteriskmath": "∗", "Rfractur": "ℜ",
    "Ifractur": "ℑ", "triangle": "△", "squaresolid": "■", "measuredangle": "∡", "prime": "′",
    "arrowdblleft": "⇐", "arrowdblright": "⇒", "arrowdblboth": "⇔", "angbracketleft": "⟨",
    "angbracketright": "⟩", "subsetnoteql": "⊊", "notparallel": "∦", "notexistential": "∄",
    "summationtext": "∑", "summationdisplay": "∑", "producttext": "∏", "productdisplay": "∏",
    "integraltext": "∫", "integraldisplay": "∫", "uniontext": "⋃", "uniondisplay": "⋃",
    "intersectiontext": "⋂", "intersectiondisplay": "⋂", "vextendsingle": "|", "vextenddouble": "‖",
    "tildewide": "~", "tildewider": "~", "tildewidest": "~", "radicalbig": "√", "radicalBig": "√",
}


def glyph_char(name: str) -> str | None:
    if name in _TEX_GLYPHS:
        return _TEX_GLYPHS[name]
    for size in ("bigg", "Bigg", "big", "Big"):
        if name.endswith(size):
            base = name[: -len(size)]
            return {"parenleft": "(", "parenright": ")", "bracketleft": "[", "bracketright": "]",
                    "braceleft": "{", "braceright": "}", "angbracketleft": "⟨", "angbracketright": "⟩",
                    "slash": "/", "backslash": "\\", "radical": "√"}.get(base)
    if name.endswith(("tp", "bt", "ex", "mid")) and name.startswith(("paren", "brace", "bracket")):
        return ""
    try:
        return name2unicode(name)
    except (KeyError, ValueError):
        return None


class ResourceManager(PDFResourceManager):
    def get_font(self, objid: object, spec: Any):
        cached = objid and objid in self._cached_fonts
        font = super().get_font(objid, spec)
        if not cached and type(font) is PDFType1Font:
            try:
                _fix_cff_encoding(font, spec)
            except Exception:  # a font we cannot read keeps pdfminer's guess  # noqa: BLE001, S110
                pass
        return font


def _fix_cff_encoding(font: PDFType1Font, spec: Any) -> None:
    spec = dict_value(spec)
    if "Encoding" in spec and not isinstance(resolve1(spec["Encoding"]), dict):
        return  # a named encoding is authoritative
    if font.unicode_map is not None:
        return  # ToUnicode wins anyway
    descriptor = dict_value(spec.get("FontDescriptor", {}))
    if "FontFile3" not in descriptor:
        return
    stream = stream_value(descriptor["FontFile3"])
    if literal_name(stream.get("Subtype")) != "Type1C":
        return
    cff = CFFFont(font.basefont, BytesIO(stream.get_data()))
    encoding_offset = cff.top_dict.get(16, [0])[0]
    if encoding_offset in (0, 1):
        return  # Standard or Expert encoding: pdfminer's default is already right
    builtin: dict[int, str] = {}
    # pdfminer reads the CFF encoding table into ``code2gid`` as {gid - 1: code} (the
    # table lists the code of each glyph from gid 1 on), so we read it that way round.
    for index, code in cff.code2gid.items():
        name = cff.gid2name.get(index + 1)
        if not name:
            continue
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        char = glyph_char(name)
        if char is not None:
            builtin[code] = char
    if not builtin:
        return
    if "Encoding" in spec:
        # Differences already applied on top of StandardEncoding: keep them, fill the rest.
        diff_codes = _difference_codes(resolve1(spec["Encoding"]))
        for code, char in builtin.items():
            if code not in diff_codes:
                font.cid2unicode[code] = char
    else:
        font.cid2unicode = builtin


def _difference_codes(encoding: dict) -> set[int]:
    codes: set[int] = set()
    code = 0
    for item in resolve1(encoding.get("Differences", [])) or []:
        if isinstance(item, int):
            code = item
        else:
            codes.add(code)
            code += 1
    return codes


class Interpreter(PDFPageInterpreter):
    """A page interpreter that survives broken colour spaces.

    pdfminer reads every colour space of a page's resources up front and fails the whole
    page on one malformed ICC profile (no /N). Colours do not matter for text: on failure
    we read the resources again without their colour spaces.
    """

    def init_resources(self, resources: Any) -> None:
        try:
            super().init_resources(resources)
        except Exception:  # noqa: BLE001 - any colour-space defect
            cleaned = {k: v for k, v in dict_value(resources).items() if k != "ColorSpace"}
            super().init_resources(cleaned)
