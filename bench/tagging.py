"""Tagging throughput (issue 3): words/s of the rule-only tagger over the UN General Debate
2024 speeches in ../shared, in one process, against spacy.blank("en") tokenizer-only
throughput measured in the same run (the baseline ratio), and with a statistical model when
the spacy_model setting names one that is installed."""
from __future__ import annotations

import time

from bench.common import row, shared_or_none

ROUNDS = 5  # best of N passes: the first pass also fills spaCy's lexeme cache


def _best_pair(fa, fb) -> tuple[float, float]:
    """Best times of fa and fb, run in alternation: on a shared machine both then see the
    same load, so their ratio holds even when absolute figures move."""
    best = [float("inf"), float("inf")]
    for _ in range(ROUNDS):
        for k, fn in enumerate((fa, fb)):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best[0], best[1]


def _best(fn, texts) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - t0)
    return best


def run(args: list[str]) -> None:
    folder = shared_or_none("texts", "ungd-2024", "txt")
    if folder is None:
        return
    import spacy

    from indexer.tag import Tagger
    from kb import settings

    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.glob("*.txt"))]
    words = sum(len(t.split()) for t in texts)
    print(f"  {len(texts)} speeches, {words} words (whitespace-separated)")

    blank = spacy.blank("en")
    t0 = time.perf_counter()
    tagger = Tagger(model="")
    tagger.tag("warm up: Korea")
    build = time.perf_counter() - t0
    mentions = []
    base, rules = _best_pair(lambda: [None for _ in blank.pipe(texts)],
                             lambda: mentions.__setitem__(slice(None), [m for t in texts for m in tagger.tag(t)]))
    row("", "words/s", "vs blank")
    row("spacy.blank('en') tokenizer only", f"{words / base:,.0f}", "1.00")
    row("kb tagger, rules only", f"{words / rules:,.0f}", f"{base / rules:.2f}")
    row("  pipeline build (registry + matchers), s", f"{build:.2f}")
    row("  mentions found", len(mentions))
    model = settings.load()["spacy_model"]
    if not model:
        row("kb tagger + statistical model", "skipped: KB_SPACY_MODEL not set")
        return
    try:
        with_model = Tagger(model=model)
        with_model.tag("warm up")
    except Exception as exc:  # noqa: BLE001 - a missing model is reported, not fatal
        row("kb tagger + statistical model", f"skipped: {exc}")
        return
    t_model = _best(lambda ts: [with_model.tag(t) for t in ts], texts[:20])
    sub = sum(len(t.split()) for t in texts[:20])
    row(f"kb tagger + model {model} (20 speeches)", f"{sub / t_model:,.0f}", f"{(sub / t_model) / (words / base):.2f}")
