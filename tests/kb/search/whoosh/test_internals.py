"""The Whoosh backend reads or replaces private parts of whoosh-reloaded 2.7.5. Each one is
pinned here, so an upgrade that moves any of them fails loudly in one place instead of
quietly changing results or speed."""
from __future__ import annotations

import inspect
from importlib.metadata import version

from whoosh.codec import base as codec_base
from whoosh.codec import whoosh3
from whoosh.filedb import compound, filestore
from whoosh.matching.mcore import ListMatcher
from whoosh.query import Or

from kb.search.whoosh import patches
from kb.search.whoosh.postings import leaf_postings
from kb.settings import load
from tests.kb.search.searchkit import open_index
from tests.kb.search.whoosh.test_index import rec


def test_the_pinned_version():
    assert version("whoosh-reloaded") == "2.7.5", "re-check every private use in kb/search/whoosh/"


def test_block_matcher_internals_used_by_the_postings_reader():
    for name in ("_read_data", "_next_block"):
        assert callable(getattr(whoosh3.W3LeafMatcher, name, None)), name
    src = inspect.getsource(whoosh3.W3LeafMatcher)
    for attr in ("self._data", "self._atend", "self._byteids"):
        assert attr in src, attr
    init = inspect.getsource(ListMatcher.__init__)
    for attr in ("self._ids", "self._weights", "self._values", "self._all_weights"):
        assert attr in init, attr


def test_postings_read_through_internals_match_the_public_matcher(tmp_path):
    ix = open_index(tmp_path / "ix", load({"home": str(tmp_path)}, environ={}))
    ix.update_documents([], [rec("d", i, "alpha beta alpha" if i % 2 else "beta") for i in range(300)])
    reader = ix.backend._searcher_now().reader()
    for leaf, _off in reader.leaf_readers():
        ids, tf = leaf_postings(leaf, "text", b"alpha")
        m = leaf.postings("text", b"alpha")
        public = list(m.items_as("frequency"))
        assert ids.tolist() == [d for d, _ in public] and tf.tolist() == [float(f) for _, f in public]
    ix.close()


def test_length_columns_and_deletions_read_by_the_columns(tmp_path):
    assert hasattr(whoosh3, "LENGTHS_COLUMN") and callable(getattr(whoosh3.W3PerDocReader, "_cached_reader", None))
    assert Or.DEFAULT_MATCHER is not None  # compile.use_union picks it over the array union
    ix = open_index(tmp_path / "ix", load({"home": str(tmp_path)}, environ={}))
    ix.update_documents([], [rec("a", 0, "alpha"), rec("b", 0, "beta gamma")])
    ix.update_documents(["a"], [])
    leaf = ix.backend._searcher_now().reader().leaf_readers()[0][0]
    assert leaf.has_deletions() and set(leaf.deleted_docs_set) == {0}
    assert leaf._perdoc._cached_reader("_text_len", whoosh3.LENGTHS_COLUMN)[1] == 2
    ix.close()


def test_patches_replace_what_they_mean_to(tmp_path):
    patches.apply()
    assert whoosh3.W3PerDocReader._cached_reader is patches._cached_reader
    assert filestore.random_name is patches.random_name and compound.random_name is patches.random_name
    assert codec_base.Segment._random_id.__func__ is patches._random_id
    # The patched column cache remembers a missing column instead of asking again.
    ix = open_index(tmp_path / "ix", load({"home": str(tmp_path)}, environ={}))
    ix.update_documents([], [rec("d", 0, "alpha")])
    leaf = ix.backend._searcher_now().reader().leaf_readers()[0][0]
    perdoc = leaf._perdoc
    calls = []
    original = perdoc.has_column
    perdoc.has_column = lambda name: calls.append(name) or original(name)
    for _ in range(3):
        assert perdoc._cached_reader("_org_len", whoosh3.LENGTHS_COLUMN) is None
    assert calls == ["_org_len"]
    ix.close()


def test_the_neutral_language_knows_the_schema():
    """kb.search.querytree and kb.search.language keep their own copies of what the Whoosh
    schema and analyser define (field names, English stop words): they must agree."""
    from kb.search import language, querytree
    from kb.search.whoosh import schema

    assert set(querytree.QUERY_FIELDS) == set(schema.build_schema().names()) - set(schema.INTERNAL_FIELDS)
    assert language.ENGLISH_STOPS == schema.ENGLISH_STOPS
    assert set(querytree.ENTITY_FIELDS) == set(schema.ENTITY_FIELDS)
