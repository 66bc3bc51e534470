"""The statistical-model path, with a small spaCy pipeline the test builds and saves itself
(official models are not installable here): its PERSON / ORG / GPE spans are merged in,
and the registry wins where it knows the span."""
from __future__ import annotations

import spacy

from indexer.tag import Tagger


def _tiny_model(path):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([
        {"label": "PERSON", "pattern": "Zorblax Quentin"},
        {"label": "ORG", "pattern": "Frobnitz Institute"},
        {"label": "ORG", "pattern": "World Bank"},  # known to the registry: registry wins
        {"label": "GPE", "pattern": "Korea"},
        {"label": "PERSON", "pattern": "Panama"},  # a wrong model guess the registry overrides
    ])
    nlp.to_disk(path)
    return str(path)


TEXT = "Yesterday Zorblax Quentin met the World Bank and the Frobnitz Institute in Korea and Panama."


def test_model_spans_are_merged(tmp_path, monkeypatch):
    model = _tiny_model(tmp_path / "tiny")
    monkeypatch.setenv("KB_SPACY_MODEL", model)  # the setting, as a deployment would set it
    tagger = Tagger()
    got = [(m.type, m.id, m.text, m.source) for m in tagger.tag(TEXT)]
    assert ("person", "zorblax-quentin", "Zorblax Quentin", "model") in got
    assert ("org", "frobnitz-institute", "Frobnitz Institute", "model") in got
    assert ("org", "world-bank", "World Bank", "rule") in got
    assert ("country", "KOR", "Korea", "rule") in got and ("country", "PAN", "Panama", "rule") in got
    assert len(got) == 5  # nothing doubled where rule and model agree
    # where the rules also find the person, one mention (the rule's) with its affiliation
    both = tagger.tag("Zorblax Quentin of the World Bank spoke.")
    assert [(m.id, m.source) for m in both if m.type == "person"] == [("zorblax-quentin", "rule")]
    assert tagger.people_of(both)[0]["affiliations"] == ["world-bank"]


def test_without_model_rules_only(monkeypatch):
    monkeypatch.delenv("KB_SPACY_MODEL", raising=False)
    got = {(m.type, m.id) for m in Tagger().tag(TEXT)}
    assert ("org", "frobnitz-institute") not in got and ("org", "world-bank") in got


def test_missing_model_is_a_clear_error(monkeypatch):
    import pytest

    from kb.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="not installed"):
        Tagger(model="no_such_model_xyz").tag("Korea")
