"""One reading of a search request for the pages and the API (web.params): the same query
strings are accepted and refused, with the same words, by both."""
from __future__ import annotations

from dataclasses import replace

import pytest
from werkzeug.datastructures import MultiDict

from kb import settings as settings_mod
from kb.errors import InvalidInputError
from web.params import API_FORM, UI_FORM, search_request

SETTINGS = settings_mod.load({"home": "unused", "max_query_length": 50}, environ={})

GOOD = [
    [("q", "digital divide")],
    [("q", "x"), ("country", "KOR"), ("country", "JPN,BRA"), ("year", "2012,2014")],
    [("collection", "UN General Debate 2024"), ("sort", "added"), ("page", "3"), ("per_page", "7")],
    [("q", "cloud"), ("correct", "0"), ("facets", "false"), ("topic", "")],
]
BAD = [
    ([("q", "x" * 51)], "longer than 50"),
    ([("sort", "random")], "sort must be one of"),
    ([("page", "0")], "page must be between"),
    ([("per_page", "1000")], "per_page must be between"),
    ([("year", "12")], "year must be four digits"),
    ([("country", "K<script>")], "is not a valid value"),
    ([("collection", "bad\x01name")], "is not a valid value"),
    ([("correct", "maybe")], "correct must be 0 or 1"),
]


@pytest.mark.parametrize("args", GOOD)
def test_the_pages_and_the_api_read_a_search_alike(args):
    api = search_request(MultiDict(args), SETTINGS, API_FORM)
    ui = search_request(MultiDict(args), SETTINGS, UI_FORM)
    # They differ only where the surfaces are meant to: facet depth and the pages' grouping.
    assert replace(ui, facet_limit=api.facet_limit, max_per_document=api.max_per_document) == api
    assert ui.facet_limit == 30 and ui.max_per_document == SETTINGS["max_per_document"] and api.max_per_document == 0


@pytest.mark.parametrize("args,words", BAD)
def test_the_pages_and_the_api_refuse_alike(args, words):
    for form in (API_FORM, UI_FORM):
        with pytest.raises(InvalidInputError, match=words):
            search_request(MultiDict(args), SETTINGS, form)


def test_filters_split_on_commas_and_drop_repeats():
    req = search_request(MultiDict([("country", "KOR,JPN"), ("country", "KOR")]), SETTINGS, UI_FORM)
    assert req.filters == {"country": ["KOR", "JPN"]}
