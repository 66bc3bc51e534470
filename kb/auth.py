"""API tokens for writes: made once, shown once, stored as a sha256 hash, revocable.

A token is 32 random bytes (URL-safe text). Only its hash reaches the catalog, so a copy of
the catalog does not hand out write access. Verification is by hash lookup; the hash is
compared in constant time as well, which costs nothing and removes a timing question.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from kb.errors import AuthError, InvalidInputError, NotFoundError
from kb.store import Catalog

TOKEN_PREFIX = "kb_"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(catalog: Catalog, name: str) -> tuple[int, str]:
    """Store a new token for ``name``; returns (id, token). The token is not kept anywhere."""
    if not _NAME_RE.match(name or ""):
        raise InvalidInputError("token name: 1-64 characters, letters, digits, space . _ @ -")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with catalog.transaction():
        token_id = catalog.add_token(name, hash_token(token))
    return token_id, token


def verify_token(catalog: Catalog, token: str | None) -> dict[str, Any]:
    """The token's record (id, name, created_at) or AuthError (missing, unknown or revoked)."""
    if not token:
        raise AuthError("this request needs a token: Authorization: Bearer <token>")
    digest = hash_token(token)
    row = catalog.token_by_hash(digest)
    if row is None or not hmac.compare_digest(row["hash"], digest):
        raise AuthError("the token is unknown or revoked")
    return {"id": row["id"], "name": row["name"], "created_at": row["created_at"]}


def bearer(header: str | None) -> str | None:
    """The token of an 'Authorization: Bearer <token>' header value, else None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def revoke_token(catalog: Catalog, name_or_id: str) -> int:
    """Revoke every live token with this name (or this id); NotFoundError when none."""
    with catalog.transaction():
        n = catalog.revoke_token(name_or_id)
    if not n:
        raise NotFoundError(f"no live token named or numbered {name_or_id!r}")
    return n


def list_tokens(catalog: Catalog) -> list[dict[str, Any]]:
    return catalog.tokens()
