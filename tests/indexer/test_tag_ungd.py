"""UN General Debate 2024 speeches (../shared/texts/ungd-2024, read in place): the speaker's
own country is found, and hand-checked speeches give exactly their countries."""
from __future__ import annotations

import pytest

from indexer.tag import Tagger

# Full country sets of a few speeches, checked by reading every tagged sentence: no
# people's names, adjectives ('Israeli', 'Ukrainian' as plain adjectives) or place names
# inside other names ('Taiwan Straits') may add a country.
HAND_CHECKED = {
    "ARG": {"ARG", "CUB", "ISR", "UKR", "VEN"},
    "DEU": {"DEU", "ISR", "NAM", "POL", "PSE", "RUS", "UKR"},
    "JOR": {"ISR", "JOR", "LBN", "PSE"},
    "GEO": {"ARM", "AZE", "CHN", "GEO", "UKR"},
    "TCD": {"CUB", "PSE", "SDN", "TCD", "UKR"},
    "PNG": {"CMR", "FRA", "PNG", "TON", "USA", "VUT"},
}


@pytest.fixture(scope="module")
def speeches(shared):
    files = sorted((shared / "texts" / "ungd-2024" / "txt").glob("*.txt"))
    if len(files) < 190:
        pytest.skip("the UNGD 2024 speeches are incomplete in ../shared")
    return {f.name.split("_")[0]: f.read_text(encoding="utf-8", errors="replace") for f in files}


@pytest.fixture(scope="module")
def tagger():
    return Tagger(model="")


@pytest.mark.slow
def test_speaker_country_found(speeches, tagger):
    missing = []
    for code, text in speeches.items():
        mentions = tagger.tag(text)
        if code == "EU":
            ok = any(m.type == "org" and m.id == "eu" for m in mentions)
        else:
            ok = any(m.type == "country" and m.id == code for m in mentions)
        if not ok:
            missing.append(code)
    assert 1 - len(missing) / len(speeches) >= 0.98, missing


@pytest.mark.parametrize("code", sorted(HAND_CHECKED))
def test_hand_checked_country_sets(speeches, tagger, code):
    found = {m.id for m in tagger.tag(speeches[code]) if m.type == "country"}
    assert found == HAND_CHECKED[code]
