import re

import pytest

from kb import settings
from kb.errors import InvalidInputError
from tests.conftest import REPO


def test_every_setting_is_documented_with_its_default_and_limits():
    doc = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", doc, re.MULTILINE)}
    assert set(rows) == {s.name for s in settings.SETTINGS}, "docs/settings.md and SETTINGS differ"
    for s in settings.SETTINGS:
        row = rows[s.name]
        assert f"`KB_{s.name.upper()}`" in row
        assert f"`{s.default!r}`" in row
        if s.minimum is not None:
            assert f"{s.minimum:g} – {s.maximum:g}" in row
        assert s.help in row


def test_environment_overrides_and_types():
    values = settings.load(environ={"KB_PAGE_SIZE": "50", "KB_QUERY_TIME_BUDGET": "0.5"})
    assert values.page_size == 50 and isinstance(values.page_size, int)
    assert values.query_time_budget == 0.5


@pytest.mark.parametrize("name,value", [("page_size", 0), ("max_page_size", 5000), ("workers", -1)])
def test_limits_are_hard(name, value):
    with pytest.raises(InvalidInputError, match=name):
        settings.load({name: value}, environ={})


def test_bad_values_and_unknown_names_are_refused():
    with pytest.raises(InvalidInputError, match="not a int"):
        settings.load(environ={"KB_PAGE_SIZE": "many"})
    with pytest.raises(InvalidInputError, match="unknown setting"):
        settings.load({"no_such_thing": 1}, environ={})
