"""Bounded fuzzing: the query language and every extractor entry point raise nothing but
kb.errors classes, whatever the input. Examples per target are few (CI budget); hypothesis
shrinks a failure to a minimal input and prints it."""
from __future__ import annotations

import io
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.errors import KBError
from kb.facade import KB
from kb.search.types import PassageRecord, SearchRequest
from tests.conftest import SHARED
from tests.reliability.generators import text_pdf

EXAMPLES = 60
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
PER_EXAMPLE_SECONDS = 20  # production runs extraction under the worker pool's kill timer


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int):
    def boom(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# -- the query language ------------------------------------------------------------------

WORDS = ["e-government", "Korea", "open", "data", "Kazakhstan", "cloud", "UNDESA", "broadband",
         "AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "country:KOR", "topic:", "year:2012", "year:[2010 TO",
         "type:pdf", "org:undesa", "title:", "\"", "(", ")", "*", "?", "~", "~2", "^", "^3", "-", "+",
         "a*", "*a", "\\", ":", "[", "]", "{", "}", "<", ">", "<=", "'", "’", "@", "#", "%", "&",
         "\x00", "\u200b", "\ufeff", "Ｋｏｒｅａ", "한국", "الحكومة", "é", "ß", "İ", "\U0001F600"]

query_strings = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(WORDS), max_size=25).map(" ".join),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), max_size=20).map("".join),
)


RECORDS = [
    PassageRecord(f"p{i}", f"d{i % 4}", i, text, title=f"Report {i % 4}", heading_path=["Track 3", "Open data"],
                  path=f"corpus/r{i % 4}.pdf", format="pdf", year=2010 + i % 4, lang=lang, country=countries,
                  org=["undesa"] if i % 2 else [], topic=["open-government-data"], page_start=1 + i, page_end=1 + i)
    for i, (text, lang, countries) in enumerate([
        ("The Republic of Korea presented e-government and open data portals.", "en", ["KOR"]),
        ("Kazakhstan: e-procurement and cloud computing for ministries.", "en", ["KAZ"]),
        ("Le gouvernement électronique et les données ouvertes au Maroc.", "fr", ["MAR"]),
        ("الحكومة الإلكترونية في الإمارات العربية المتحدة", "ar", ["ARE"]),
        ("한국의 전자정부 발전 과정과 공공 데이터 개방", "ko", ["KOR"]),
        ("Broadband for all: UNDESA capacity building in Bhutan <script>x</script>", "en", ["BTN"]),
    ] * 3)
]


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    home = tmp_path_factory.mktemp("fuzzhome")
    with KB({"home": str(home)}) as k:
        k.index.index_passages(RECORDS)
        yield k


@FUZZ
@given(q=query_strings, page=st.integers(-3, 50), per_page=st.integers(-2, 300),
       sort=st.sampled_from(["relevance", "date", "title", "bogus"]))
def test_any_query_string_returns_results_or_a_kb_error(kb, q, page, per_page, sort):
    req = SearchRequest(q=q, page=page, per_page=per_page, sort=sort)
    try:
        res = kb.search(req)
    except KBError:
        return
    assert res.total >= len(res.hits)
    for hit in res.hits:
        # snippets are escaped text with <mark> only: no raw markup can come through
        assert "<script" not in hit.snippet


@FUZZ
@given(filters=st.dictionaries(st.sampled_from(["country", "org", "topic", "year", "type", "lang", "person",
                                                "region", "bogus", ""]),
                               st.lists(st.text(max_size=12), max_size=3), max_size=4),
       q=query_strings, cursor=st.one_of(st.none(), st.text(max_size=40)))
def test_any_filters_and_cursor_return_results_or_a_kb_error(kb, filters, q, cursor):
    try:
        kb.search(SearchRequest(q=q, filters=filters, cursor=cursor))
    except KBError:
        pass


def test_the_fuzzed_index_answers_a_plain_query(kb):
    # the fixture is not vacuous: plain queries find what was indexed
    res = kb.search(SearchRequest(q="Kazakhstan"))
    assert res.total == 3 and all("Kazakhstan" in h.text for h in res.hits)


# -- every extractor entry point ------------------------------------------------------------

def _docx() -> bytes:
    import docx

    d = docx.Document()
    d.core_properties.title = "Fuzz title"
    d.add_heading("Digital identity", 1)
    d.add_paragraph("Estonia presented its e-residency programme.")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text = "Country"
    t.cell(1, 0).text = "Korea"
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _pptx() -> bytes:
    import pptx

    p = pptx.Presentation()
    s = p.slides.add_slide(p.slide_layouts[1])
    s.shapes.title.text = "Open data in Chile"
    s.placeholders[1].text = "Portal launched\nHackathons"
    s.notes_slide.notes_text_frame.text = "speaker notes"
    buf = io.BytesIO()
    p.save(buf)
    return buf.getvalue()


def _xlsx() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["country", "egdi"])
    ws.append(["Korea", 0.95])
    ws.append(["Kazakhstan", 0.86])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


SEEDS: dict[str, bytes] = {
    "pdf": text_pdf(["Open government data in Uruguay", "e-participation in Korea"]),
    "docx": _docx(),
    "pptx": _pptx(),
    "xlsx": _xlsx(),
    "html": b"<!DOCTYPE html><html><head><title>T</title></head><body><h1>Korea</h1><p>Open data "
            b"&amp; cloud<script>alert(1)</script></p><table><tr><td>x</td></tr></table></body></html>",
    "txt": "Plain text about Kazakhstan e-procurement.\n\nSecond paragraph — ünïcode.\n".encode(),
    "md": b"# Title\n\n## Section\n\nText about *Chile*.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
    "jsonl": b'{"id": "1", "title": "A", "text": "Korea"}\n{"id": "2", "title": "B", "text": "Chile"}\n',
    "csv": b"id,title,text\n1,A,Korea open data\n2,B,Chile\n",
}
LEGACY = {"doc": "uns__duplicate-paragraphs.doc", "xls": "uns__tests-example.xls"}
for _ext, _name in LEGACY.items():
    _p = SHARED / "docs" / "legacy" / _name
    if _p.is_file() and shutil.which("soffice"):  # legacy formats convert through LibreOffice  # third-party bytes are read at test time, never copied into the repo
        SEEDS[_ext] = _p.read_bytes()


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at: at + draw(st.integers(1, 512))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            n = draw(st.integers(1, 256))
            data[at:at] = data[at: at + n] * draw(st.integers(1, 8))
    return bytes(data)


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_extract_on_mutated_bytes_raises_only_kb_errors(fmt):
    from indexer.extract import extract

    seed = SEEDS[fmt]
    limits = {"max_inflate_mb": 64, "max_file_mb": 64}
    ok = extract(seed, name=f"seed.{fmt}", limits=limits)  # the seed itself is valid
    assert ok.blocks, f"the {fmt} seed extracts to nothing: the fuzz would be vacuous"

    @FUZZ
    @given(data=mutated(seed), as_stream=st.booleans())
    def run(data, as_stream):
        source = io.BytesIO(data) if as_stream else data
        try:
            with time_limit(PER_EXAMPLE_SECONDS):
                extract(source, name=f"fuzz.{fmt}", limits=limits)
        except KBError as exc:
            assert str(exc) and "\n" not in str(exc).strip(), "reasons are one line"
        except Hang:
            pytest.fail(f"{fmt}: extraction of a {len(data)}-byte mutation did not end in {PER_EXAMPLE_SECONDS} s")

    run()


def test_extract_from_a_path_and_a_vanished_path(tmp_path):
    from indexer.extract import extract

    p = tmp_path / "x.md"
    p.write_bytes(SEEDS["md"])
    assert extract(p).blocks
    p.unlink()
    with pytest.raises(KBError):
        extract(p)
    with pytest.raises(KBError):
        extract(Path(tmp_path))  # a folder is not a file
