"""Questions: the 30 corpus-report questions of tests/kb/test_search_forum_questions.py,
asked through `kb search --batch`, on the report alone and with distractors.

The report splits into only 20 passages, so the test's bar (right passage in the top 3 for
27 of 30) is easy there. This benchmark adds the 903 ICEGOV e-government abstracts of
../shared/texts/icegov (~1,000 passages on the same subjects) to the same KB and reports
top-1, top-3 and MRR@10 for both, so ranking changes can be judged on a harder set.
The KB homes are cached in bench-out/questions/ by the hash of their inputs.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ICEGOV = SHARED / "texts" / "icegov" / "icegov-proceedings-all-editions.csv"
FIXTURES = REPO / "tests" / "fixtures" / "search"
OUT = REPO / "bench-out" / "questions"


def _icegov_jsonl() -> Path:
    path = OUT / "icegov.jsonl"
    with ICEGOV.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if (r.get("abstract") or "").strip()]
    data = "".join(json.dumps({"id": f"icegov-{i}", "title": r["title"], "text": r["abstract"],
                               "year": r["year"]}, ensure_ascii=False) + "\n" for i, r in enumerate(rows))
    if not path.exists() or path.read_text(encoding="utf-8") != data:
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(data, encoding="utf-8")
    return path


def _cli(argv: list[str]) -> str:
    from indexer.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(argv)
    if rc:
        raise SystemExit(f"questions: kb {' '.join(argv[:3])}… exited {rc}")
    return out.getvalue()


def _home(name: str, inputs: list[Path]) -> str:
    from indexer.extract import EXTRACTOR_VERSION

    h = hashlib.sha256(EXTRACTOR_VERSION.encode())
    for p in inputs:
        for f in sorted(p.rglob("*")) if p.is_dir() else [p]:
            if f.is_file():
                h.update(f.read_bytes())
    home = OUT / f"{name}-{h.hexdigest()[:12]}"
    if not (home / "INGESTED").exists():
        for old in OUT.glob(f"{name}-*"):
            shutil.rmtree(old, ignore_errors=True)
        home.mkdir(parents=True)
        _cli(["--home", str(home), "ingest", "--workers", "1", *map(str, inputs)])
        (home / "INGESTED").write_text("ok")
    return str(home)


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
