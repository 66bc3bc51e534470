"""EGDI indicators: the 2022 survey shipped in kb/data/indicators, KB_INDICATORS adding and
overriding years, and the benchmark against sub-region, region and world."""
from __future__ import annotations

import pytest

from kb import indicators
from kb.errors import InvalidInputError


def test_shipped_2022_scores_cover_193_states_without_a_setting():
    scores = indicators.load(None)
    assert len(scores) == 193
    assert scores["KOR"][2022] == {"egdi": 0.9529, "rank": 3, "osi": 0.9826, "hci": 0.9087,
                                   "tii": 0.9674, "epi": 0.9432}
    assert indicators.egdi_series("", "kaz") == [{"year": 2022, "egdi": 0.8628, "rank": 28, "osi": 0.9344,
                                                  "hci": 0.9021, "tii": 0.752, "epi": 0.8068}]
    assert (indicators.SHIPPED / "README.md").read_text(encoding="utf-8").count("Data-Center") == 1


def test_a_configured_file_adds_years_and_overrides_the_shipped_ones(tmp_path):
    extra = tmp_path / "egdi.csv"
    extra.write_text("country,year,egdi,rank\nKAZ,2020,0.8375,29\nKAZ,2022,0.9,10\n", encoding="utf-8")
    series = indicators.egdi_series(extra, "KAZ")
    assert [(s["year"], s["egdi"], s["rank"]) for s in series] == [(2020, 0.8375, 29), (2022, 0.9, 10)]
    assert indicators.egdi_series(extra, "KOR")[0]["egdi"] == 0.9529  # others keep the shipped year
    with pytest.raises(InvalidInputError, match="does not exist"):
        indicators.load(tmp_path / "missing.csv")


def test_benchmark_medians_and_ranks():
    groups = {"subregion": ("Central Asia", ["KAZ", "KGZ", "TJK", "TKM", "UZB"]),
              "world": ("World", list(indicators.load(None)))}
    bm = indicators.benchmark(None, "KAZ", groups)
    assert bm["year"] == 2022 and bm["egdi"] == 0.8628
    sub, world = bm["rows"]
    scores = sorted(indicators.load(None)[c][2022]["egdi"] for c in groups["subregion"][1])
    assert sub == {"key": "subregion", "label": "Central Asia", "median": scores[2], "rank": 1, "of": 5}
    assert (world["rank"], world["of"]) == (28, 193)  # the survey's own world rank
    assert indicators.benchmark(None, "ATA", groups) is None  # Antarctica: no score
