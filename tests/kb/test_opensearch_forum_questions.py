"""The 30 forum questions (tests/kb/test_search_forum_questions.py) through `kb ingest` and
`kb search --batch` on a home whose backend is the OpenSearch cluster: it must answer within
one question of the same home on Whoosh, both run here on the same report."""
from __future__ import annotations

import json
import os
import uuid

import pytest

from kb.facade import KB
from tests.conftest import CORPUS
from tests.kb.test_search_forum_questions import (
    QUESTIONS,
    TOP,
    _answers,
    _cli,
    _is_right,
    _questions,
)


def answered(home: str, env: dict[str, str]) -> tuple[int, list[str]]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        _cli(["--home", home, "ingest", "--workers", "1", str(CORPUS)])
        out = _cli(["--home", home, "search", "--batch", str(QUESTIONS), "--by", "passage",
                    "--format", "jsonl", "--limit", str(TOP)])
        with KB({"home": home, **{k[3:].lower(): v for k, v in env.items()}}, readonly=True) as kb:
            texts = {p["id"]: p["text"] for d in kb.catalog.list_documents(limit=1000)
                     for p in kb.catalog.passages(d["id"])}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    answers = _answers()
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    missed = [r["qid"] for r in rows
              if not any(_is_right(texts[h["passage_id"]], answers[r["qid"]]) for h in r["results"])]
    return len(rows) - len(missed), missed


@pytest.mark.slow
def test_opensearch_answers_within_one_question_of_whoosh(opensearch_urls, tmp_path):
    prefix = f"kbtest-{uuid.uuid4().hex[:8]}"
    env = {"KB_SEARCH_BACKEND": "opensearch", "KB_OPENSEARCH_URL": ",".join(opensearch_urls),
           "KB_OPENSEARCH_INDEX": prefix}
    try:
        os_score, os_missed = answered(str(tmp_path / "os"), env)
    finally:
        with KB({"home": str(tmp_path / "os"), "search_backend": "opensearch",
                 "opensearch_url": env["KB_OPENSEARCH_URL"], "opensearch_index": prefix}) as kb:
            kb.index.backend.client.indices.delete(index=f"{prefix}-passages-*")
    wh_score, _ = answered(str(tmp_path / "wh"), {"KB_SEARCH_BACKEND": "whoosh"})
    assert len(_questions()) == 30
    assert os_score >= wh_score - 1, f"OpenSearch {os_score}/30 (missed {os_missed}), Whoosh {wh_score}/30"
