"""API tokens: shown once, stored hashed, verified, revoked."""
from __future__ import annotations

import pytest

from kb import auth
from kb.errors import AuthError, InvalidInputError, NotFoundError
from kb.store import Catalog


@pytest.fixture
def catalog(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    yield cat
    cat.close()


def test_token_is_stored_hashed_and_verifies(catalog):
    token_id, token = auth.create_token(catalog, "curator")
    assert token.startswith(auth.TOKEN_PREFIX) and len(token) > 40
    raw = catalog.db.execute("SELECT hash FROM tokens WHERE id = ?", (token_id,)).fetchone()[0]
    assert raw == auth.hash_token(token) and token not in raw
    dump = "\n".join(catalog.db.iterdump())
    assert token not in dump  # the token itself is nowhere in the catalog
    rec = auth.verify_token(catalog, token)
    assert rec["id"] == token_id and rec["name"] == "curator"


def test_two_tokens_differ(catalog):
    _, a = auth.create_token(catalog, "a")
    _, b = auth.create_token(catalog, "a")
    assert a != b


@pytest.mark.parametrize("bad", [None, "", "kb_wrong", "x" * 500])
def test_missing_or_wrong_token_is_refused(catalog, bad):
    auth.create_token(catalog, "curator")
    with pytest.raises(AuthError):
        auth.verify_token(catalog, bad)


def test_revoked_token_is_refused(catalog):
    _token_id, token = auth.create_token(catalog, "bot")
    _, other = auth.create_token(catalog, "keeper")
    assert auth.revoke_token(catalog, "bot") == 1
    with pytest.raises(AuthError):
        auth.verify_token(catalog, token)
    assert auth.verify_token(catalog, other)["name"] == "keeper"
    with pytest.raises(NotFoundError):
        auth.revoke_token(catalog, "bot")  # already revoked
    listed = {t["name"]: t for t in auth.list_tokens(catalog)}
    assert listed["bot"]["revoked_at"] and listed["keeper"]["revoked_at"] is None
    assert "hash" not in listed["bot"]


def test_revoke_by_id(catalog):
    token_id, token = auth.create_token(catalog, "by-id")
    auth.revoke_token(catalog, str(token_id))
    with pytest.raises(AuthError):
        auth.verify_token(catalog, token)


@pytest.mark.parametrize("name", ["", " lead", "a" * 65, "x\ny", "<script>"])
def test_bad_names(catalog, name):
    with pytest.raises(InvalidInputError):
        auth.create_token(catalog, name)


@pytest.mark.parametrize("header,expected", [
    ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None),
    ("Bearer ", None), (None, None), ("abc", None),
])
def test_bearer_header(header, expected):
    assert auth.bearer(header) == expected
