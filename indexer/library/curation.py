"""Curation that takes effect: alias, merge and reject are validated, recorded, and the
documents they can change are re-tagged and re-indexed before the call returns, or, past
the `curation_inline_max_docs` setting, by a background job (indexer.library.jobs).

Which documents a curation can change: a merge or an entity rejection, the documents that
mention the entity; an alias or a rejected surface, the documents whose text contains the
surface (case-folded). Search-time resolution and the pages follow the curation log itself
(caches keyed by kb.store.Catalog.curation_version), so an alias that changes no document
still changes what a query finds.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from indexer.documents import get_tagger, merge_person, stored_authors, tag_document
from indexer.library.documents import write_lock
from indexer.library.indexing import sync_index
from indexer.library.jobs import create as create_job
from indexer.library.jobs import start as start_job
from indexer.pipeline import Progress, crash_point
from kb.errors import ConflictError, InvalidInputError, NotFoundError
from kb.facade import KB
from kb.model import ENTITY_TYPES, Passage

ACTIONS = ("alias", "merge", "reject")
MAX_VALUE = 300  # characters of an alias or a rejected surface


@dataclass
class CurationResult:
    """What a curation did: the log row, and the documents and passages re-tagged, or the
    background job doing it (documents then counts those it will re-tag)."""

    seq: int
    action: str
    type: str | None
    id: str | None
    value: str
    documents: int = 0
    passages: int = 0
    job: str | None = None

    @property
    def message(self) -> str:
        if self.job:
            return f"re-tagging {self.documents} documents in the background (job {self.job})"
        return f"re-tagged {self.documents} documents, {self.passages} passages"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "applied": self.message}


def entity_type(kb: KB, entity_id: str) -> str | None:
    """The type of a known id: the registry's, else a person seen in the documents."""
    found = kb.registry.find_type(entity_id)
    if found is None and kb.catalog.get_person(entity_id) is not None:
        return "person"
    return found


def _known(kb: KB, type_: str, entity_id: str) -> bool:
    """Listed (a person in the catalog's people, any other type in the registry), or
    mentioned by some document."""
    listed = kb.catalog.get_person(entity_id) if type_ == "person" else kb.registry.get(type_, entity_id)
    return listed is not None or bool(kb.catalog.docs_mentioning(type_, entity_id))


def _check(kb: KB, action: str, type_: str | None, entity_id: str | None,
           value: str) -> tuple[str | None, str | None, str]:
    """The validated (type, id, value) to record; InvalidInputError, NotFoundError or
    ConflictError (merging an entity into itself) otherwise."""
    if action not in ACTIONS:
        raise InvalidInputError(f"action must be one of {', '.join(ACTIONS)}")
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_VALUE:
        raise InvalidInputError(f"give a value of 1 to {MAX_VALUE} characters")
    value = value.strip()
    if entity_id is None:
        if action != "reject":
            raise InvalidInputError(f"{action} needs an entity (TYPE:ID)")
        return None, None, value  # a surface text, never to be tagged again
    if type_ is None:
        type_ = entity_type(kb, entity_id)
        if type_ is None:
            raise NotFoundError(f"unknown entity {entity_id!r}; use TYPE:ID")
    if type_ not in ENTITY_TYPES:
        raise InvalidInputError(f"type must be one of {', '.join(ENTITY_TYPES)}")
    if type_ == "country":
        entity_id = entity_id.upper()
    if not _known(kb, type_, entity_id):
        raise NotFoundError(f"no {type_} {entity_id!r}")
    if action == "merge":
        into = value.upper() if type_ == "country" else value
        if into == entity_id:
            raise ConflictError("an entity cannot be merged into itself")
        if not _known(kb, type_, into):
            raise NotFoundError(f"cannot merge into {type_} {into!r}: no such {type_}")
        return type_, entity_id, into
    if action == "reject":
        if (value.upper() if type_ == "country" else value) != entity_id:
            return None, None, value  # the entity page's "reject this text": a surface
        value = entity_id
    return type_, entity_id, value


def affected_documents(kb: KB, action: str, type_: str | None, entity_id: str | None, value: str) -> list[str]:
    """The documents a curation can change (see the module's docstring)."""
    if action == "alias" or entity_id is None:
        return kb.catalog.docs_containing(value)
    assert type_ is not None
    return kb.catalog.docs_mentioning(type_, entity_id)


def curate(kb: KB, action: str, type_: str | None, entity_id: str | None, value: str,
           progress: Progress | None = None, background: bool = True) -> CurationResult:
    """Validate and record one curation, then re-tag and re-index what it changes: in this
    call, or, when more documents than `curation_inline_max_docs` are concerned and
    `background` is allowed, in a job whose id the result carries."""
    type_, entity_id, value = _check(kb, action, type_, entity_id, value)
    with write_lock(kb):
        with kb.catalog.transaction():
            seq = kb.catalog.add_curation(action, value, type_, entity_id)
        docs = affected_documents(kb, action, type_, entity_id, value)
        result = CurationResult(seq, action, type_, entity_id, value, documents=len(docs))
        if background and len(docs) > int(kb.settings["curation_inline_max_docs"]):
            result.job = create_job(kb.catalog, "retag", {"curation": seq, "documents": docs})
        else:
            result.documents, result.passages = _retag(kb, docs, progress)
            sync_index(kb)
            return result
    start_job(kb.settings, result.job, _retag_job)  # after the lock is released: the job takes it
    return result


def retag(kb: KB, doc_ids: Iterable[str] | None = None, progress: Progress | None = None) -> dict[str, int]:
    """Re-tag documents (all by default) with the catalog's curation, then re-index them."""
    with write_lock(kb):
        docs = list(doc_ids) if doc_ids is not None else kb.catalog.all_doc_ids()
        documents, passages = _retag(kb, docs, progress)
        sync_index(kb)
    return {"documents": documents, "passages": passages}


def _retag_job(kb: KB, payload: dict[str, Any], progress: Progress) -> dict[str, int]:
    return retag(kb, payload["documents"], progress)


def _retag(kb: KB, doc_ids: list[str], progress: Progress | None) -> tuple[int, int]:
    """Replace the mentions and people of these documents with what the tagger finds under
    the current curation (no re-extraction); they are marked for re-indexing. Returns
    (documents, passages) re-tagged."""
    catalog = kb.catalog
    tagger = get_tagger(catalog.curation())
    done = passages_done = 0
    for doc_id in doc_ids:
        doc = catalog.get_document(doc_id)
        if doc is None:
            continue  # deleted since
        passages = [Passage(doc_id=r["doc_id"], ordinal=r["ordinal"], text=r["text"],
                            heading_path=r["heading_path"], language=r.get("language"),
                            kind=r.get("kind") or "paragraph") for r in catalog.passages(doc_id)]
        # as at ingest, the sidecar's authors included
        mentions, people = tag_document(tagger, passages, doc.get("language"), stored_authors(doc["metadata"]))
        with catalog.transaction():
            catalog.replace_mentions(doc_id, mentions)
            for person in people:
                merge_person(catalog, person, doc_id, doc.get("year"), doc.get("title"))
        crash_point("retag")  # a document re-tagged, the rest and the index not yet
        done += 1
        passages_done += len(passages)
        if progress:
            progress({"event": "retag", "done": done, "total": len(doc_ids)})
    return done, passages_done
