"""Questions: the 30 corpus-report questions of tests/kb/test_search_forum_questions.py,
asked through `kb search --batch`, on the report alone and with distractors.

The report splits into only 20 passages, so the test's bar (right passage in the top 3 for
27 of 30) is easy there. This benchmark adds the 903 ICEGOV e-government abstracts of
../shared/texts/icegov (~1,000 passages on the same subjects) to the same KB and reports
top-1, top-3 and MRR@10 for both, so ranking changes can be judged on a harder set.
The KB homes are cached in bench-out/questions/ by the hash of their inputs
(bench.common.cached_kb).
"""
from __future__ import annotations

import csv
import io
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from bench.common import OUT as BENCH_OUT
from bench.common import REPO, SHARED, cached_kb, write_jsonl

ICEGOV = SHARED / "texts" / "icegov" / "icegov-proceedings-all-editions.csv"
FIXTURES = REPO / "tests" / "fixtures" / "search"
OUT = BENCH_OUT / "questions"


def _icegov_jsonl() -> Path:
    with ICEGOV.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if (r.get("abstract") or "").strip()]
    return write_jsonl(OUT / "icegov.jsonl", [{"id": f"icegov-{i}", "title": r["title"], "text": r["abstract"],
                                               "year": r["year"]} for i, r in enumerate(rows)])


def _cli(argv: list[str]) -> str:
    from web.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(argv)
    if rc:
        raise SystemExit(f"questions: kb {' '.join(argv[:3])}… exited {rc}")
    return out.getvalue()


def _home(name: str, inputs: list[Path]) -> str:
    kb, _how = cached_kb(OUT / name, inputs, label="questions")
    kb.close()
    return str(kb.home)


def score(home: str) -> dict[str, Any]:
    from kb.facade import KB

    questions = dict(line.split("\t", 1) for line in (FIXTURES / "forum-questions.tsv").read_text(
        encoding="utf-8").splitlines() if line.strip() and not line.startswith("#"))
    answers = json.loads((FIXTURES / "forum-answers.json").read_text(encoding="utf-8"))
    out = _cli(["--home", home, "search", "--batch", str(FIXTURES / "forum-questions.tsv"),
                "--by", "passage", "--format", "jsonl", "--limit", "10"])
    ranks: dict[str, int | None] = {}
    with KB({"home": home}, readonly=True) as kb:
        for line in out.splitlines():
            row = json.loads(line)
            texts = [kb.catalog.passage(h["passage_id"])["text"] for h in row["results"]]
            hit = [i for i, t in enumerate(texts, 1) if any(s in t for s in answers[row["qid"]])]
            ranks[row["qid"]] = hit[0] if hit else None
    n = len(questions)
    return {"n": n, "top1": sum(r == 1 for r in ranks.values()),
            "top3": sum(bool(r and r <= 3) for r in ranks.values()),
            "mrr": sum(1 / r for r in ranks.values() if r) / n,
            "missed": sorted(q for q, r in ranks.items() if not r or r > 3)}


def run(args: list[str]) -> None:
    corpus = REPO / "corpus"
    rows = [("report alone", _home("report", [corpus]))]
    if ICEGOV.is_file():
        rows.append(("report + 903 ICEGOV abstracts", _home("distractors", [corpus, _icegov_jsonl()])))
    else:
        print(f"questions: distractor run skipped, {ICEGOV} is absent")
    print(f"{'KB':<32} {'top-1':>6} {'top-3':>6} {'MRR@10':>7}  missed (top 3)")
    for label, home in rows:
        s = score(home)
        print(f"{label:<32} {s['top1']:>3}/{s['n']} {s['top3']:>3}/{s['n']} {s['mrr']:>7.3f}  "
              f"{', '.join(s['missed']) or '-'}", flush=True)


if __name__ == "__main__":
    run(sys.argv[1:])
