"""The error tree of kb.

Everything kb raises on purpose is a ``KBError``. The tree knows nothing of HTTP or the
command line: ``web/`` maps the classes to status codes, the CLI turns them into one-line
messages. Each class carries a short machine ``code`` used by both.
"""
from __future__ import annotations


class KBError(Exception):
    """Base of every error kb raises on purpose."""

    code = "kb_error"

    def __init__(self, message: str = "", **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message or self.__class__.__name__


class ExtractionError(KBError):
    """A file's bytes could not be turned into text."""

    code = "extraction_failed"


class UnsupportedFormatError(ExtractionError):
    code = "unsupported_format"


class EncryptedError(ExtractionError):
    """The file is encrypted and no (correct) password was given."""

    code = "encrypted"


class NoTextLayerError(ExtractionError):
    """A PDF whose pages are images and no OCR program is available."""

    code = "no_text_layer"


class ResourceLimitError(ExtractionError):
    """A file exceeded its time or memory budget, or inflates past a limit."""

    code = "resource_limit"


class InvalidInputError(KBError):
    """A request or argument is malformed (bad filter value, bad page number...)."""

    code = "invalid_input"


class InvalidQueryError(InvalidInputError):
    code = "invalid_query"


class ConflictError(InvalidInputError):
    """A well-formed request that contradicts itself or the state it names (a paging cursor
    of another query, merging an entity into itself)."""

    code = "conflict"


class CursorMismatchError(ConflictError):
    """A well-formed paging cursor sent with another query, filters, sort or grouping than
    the one it was made for."""

    code = "cursor_mismatch"


class NotFoundError(KBError):
    code = "not_found"


class MovedError(KBError):
    """An entity a curator merged into another: its page is the target's. web/ answers with
    a redirect to `target`'s page."""

    code = "moved"

    def __init__(self, type_: str, entity_id: str, target: str) -> None:
        super().__init__(f"{type_} {entity_id!r} was merged into {target!r}")
        self.type = type_
        self.target = target


class LimitExceededError(KBError):
    """A declared limit (page size, export rate, upload size...) was exceeded."""

    code = "limit_exceeded"

    def __init__(self, message: str = "", retry_after: int | None = None, **details: object):
        super().__init__(message, **details)
        self.retry_after = retry_after


class AuthError(KBError):
    code = "unauthorized"


class BusyError(KBError):
    """Another writer holds the lock and did not release it in time."""

    code = "busy"


class IndexError_(KBError):
    """The search index is missing, corrupt or of another schema version."""

    code = "index_error"


class BackendUnavailableError(KBError):
    """The search backend (an OpenSearch cluster) cannot be reached or did not answer."""

    code = "backend_unavailable"


class CatalogError(KBError):
    code = "catalog_error"
