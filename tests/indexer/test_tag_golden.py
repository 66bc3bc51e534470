"""The tagger's exact output, mention by mention, against stored golden files: any change to
tagging (a speed-up, a refactor) must leave every (type, id, name, text, start, end, passage,
source) and every person record as it was.

Samples: a committed fixture written for this test (tests/fixtures/tagging: whitespace and
tokenizer edge cases, honorifics, tables, French and Spanish), the repo's corpus report, and
20 UN General Debate 2024 speeches read in place from ../shared (skipped when it is absent).

When tagging changes on purpose (new rules, edited kb/data), regenerate with
``KB_REGEN_GOLDEN=1 .venv/bin/pytest tests/indexer/test_tag_golden.py``: the run rewrites the
golden files and fails, so a regeneration never passes unnoticed; review the diff, commit,
re-run without the switch.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

import indexer.tag as tag_mod
from indexer.tag import Tagger
from kb.entities import load_registry
from kb.model import Mention, Passage
from tests.conftest import CORPUS, FIXTURES

REGEN = "KB_REGEN_GOLDEN"
HERE = FIXTURES / "tagging"
SAMPLE_EN = (HERE / "sample-en.md").read_text(encoding="utf-8")
SAMPLE_FR = (HERE / "sample-fr.txt").read_text(encoding="utf-8")
SAMPLE_ES = (HERE / "sample-es.txt").read_text(encoding="utf-8")
CURATION = [
    {"action": "alias", "type": "org", "entity_id": "undesa", "value": "e-Government Branch"},
    {"action": "merge", "type": "org", "entity_id": "dpadm", "value": "undesa"},
    {"action": "reject", "type": None, "entity_id": None, "value": "Korea"},
    {"action": "reject", "type": "country", "entity_id": "JPN", "value": "JPN"},
    {"action": "merge", "type": "person", "entity_id": "byungshik", "value": "lee-byungshik"},
]


def _regen() -> bool:
    return os.environ.get(REGEN, "") not in ("", "0")


def _paragraphs(doc_id: str, text: str, lang: str | None = None) -> list[Passage]:
    """Blank-line separated paragraphs as passages (independent of indexer.segment, so that
    segmenter changes do not move these files)."""
    out: list[Passage] = []
    for m in re.finditer(r"(?:[^\n]|\n(?!\s*\n))+", text):
        if m.group().strip():
            out.append(Passage(doc_id=doc_id, ordinal=len(out), text=m.group(), char_start=m.start(),
                               language=lang))
    return out


def _result(tagger: Tagger, mentions: list[Mention]) -> dict[str, Any]:
    return {"mentions": [[m.type, m.id, m.name, m.text, m.start, m.end, m.passage, m.source] for m in mentions],
            "people": tagger.people_of(mentions)}


def _check(name: str, results: dict[str, dict[str, Any]]) -> None:
    path: Path = HERE / f"golden-{name}.json"
    if _regen():
        path.write_text(_dump(results), encoding="utf-8")
        pytest.fail(f"{path.name} regenerated ({REGEN} is set): review the diff, then run without it")
    assert path.is_file(), f"{path} is missing: generate it once with {REGEN}=1 and review it"
    golden = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(results) == sorted(golden), "the set of golden cases changed"
    for case, got in results.items():
        want = golden[case]
        got = json.loads(json.dumps(got))  # tuples -> lists, as stored
        if got["mentions"] != want["mentions"]:
            extra = [m for m in got["mentions"] if m not in want["mentions"]][:5]
            lost = [m for m in want["mentions"] if m not in got["mentions"]][:5]
            pytest.fail(f"{name}/{case}: {len(got['mentions'])} mentions, golden {len(want['mentions'])}; "
                        f"new {extra}; lost {lost} (order or duplicates differ if both are empty)")
        assert got["people"] == want["people"], f"{name}/{case}: person records differ"


def _dump(results: dict[str, dict[str, Any]]) -> str:
    """One mention per line: readable diffs when a golden file is regenerated."""
    lines = ["{"]
    for k, case in enumerate(sorted(results)):
        r = results[case]
        lines.append(f"  {json.dumps(case)}: {{")
        lines.append('    "mentions": [')
        rows = [json.dumps(m, ensure_ascii=False) for m in r["mentions"]]
        lines += [f"      {row}{',' if i < len(rows) - 1 else ''}" for i, row in enumerate(rows)]
        lines.append("    ],")
        lines.append(f'    "people": {json.dumps(r["people"], ensure_ascii=False, sort_keys=True)}')
        lines.append("  }" + ("," if k < len(results) - 1 else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def test_golden_fixture(monkeypatch):
    out: dict[str, dict[str, Any]] = {}
    t = Tagger(model="")
    out["en-text"] = _result(t, t.tag(SAMPLE_EN))
    t = Tagger(model="")
    out["en-passages"] = _result(t, t.tag_passages(_paragraphs("sample", SAMPLE_EN), "en"))
    t = Tagger(model="")
    out["fr-text"] = _result(t, t.tag(SAMPLE_FR, "fr"))
    t = Tagger(model="")
    out["es-text"] = _result(t, t.tag(SAMPLE_ES, "es"))
    t = Tagger(model="")
    mixed = (_paragraphs("m", SAMPLE_EN, "en")[:3] + _paragraphs("m", SAMPLE_FR, "fr")
             + _paragraphs("m", SAMPLE_ES, "es"))
    mixed = [Passage(doc_id="m", ordinal=i, text=p.text, language=p.language) for i, p in enumerate(mixed)]
    out["mixed-passages"] = _result(t, t.tag_passages(mixed))
    t = Tagger(load_registry(CURATION), model="")
    out["en-curated"] = _result(t, t.tag(SAMPLE_EN))
    # small chunks: cuts at paragraph, line and sentence ends; people merged across chunks
    monkeypatch.setattr(tag_mod, "CHUNK_CHARS", 300)
    t = Tagger(model="")
    out["en-chunked"] = _result(t, t.tag(SAMPLE_EN))
    _check("fixture", out)


def test_golden_corpus_report():
    text = (CORPUS / "forum-2012-final-report.md").read_text(encoding="utf-8")
    t = Tagger(model="")
    out = {"text": _result(t, t.tag(text))}
    t = Tagger(model="")
    out["passages"] = _result(t, t.tag_passages(_paragraphs("forum", text), "en"))
    _check("corpus", out)


def test_golden_ungd_speeches(shared):
    files = sorted((shared / "texts" / "ungd-2024" / "txt").glob("*.txt"))
    if len(files) < 190:
        pytest.skip("the UNGD 2024 speeches are incomplete in ../shared")
    picked = files[::10]  # 20 speeches, every tenth by file name
    texts = {f.name.split("_")[0]: f.read_text(encoding="utf-8", errors="replace") for f in picked}
    out: dict[str, dict[str, Any]] = {}
    for code, text in texts.items():
        t = Tagger(model="")
        out[code] = _result(t, t.tag(text))
    for code in list(texts)[:3]:
        t = Tagger(model="")
        out[f"{code}-passages"] = _result(t, t.tag_passages(_paragraphs(code, texts[code]), "en"))
    _check("ungd", out)


def test_golden_regeneration_is_off():
    """A normal run (CI included) compares with the golden files and never rewrites them;
    a regenerating run fails here as well, so it cannot pass as a test run (docling's
    test_data_gen_flag)."""
    assert not _regen(), f"{REGEN} is set: golden files were rewritten, not checked"
