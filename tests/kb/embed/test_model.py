"""The packaged embedding model: the real ONNX file and the shipped tokenizer."""
from __future__ import annotations

import numpy as np
import pytest

from kb.embed.model import (
    DIM,
    MAX_TOKENS,
    TOKENIZER_DIR,
    Embedder,
    EmbeddingError,
    _batches,
    get_embedder,
)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder(1)


def test_tokenizer_ids_are_the_vocabulary_line_numbers(embedder):
    vocab = {w: i for i, w in enumerate((TOKENIZER_DIR / "vocab.txt").read_text(encoding="utf-8").splitlines())}
    enc = embedder.tokenizer.encode("E-Procurement in Kazakhstan, unbelievably")
    assert enc.ids[0] == vocab["[CLS]"] == 101 and enc.ids[-1] == vocab["[SEP]"] == 102
    # uncased WordPiece: lower-cased words, split into known pieces marked ##
    assert enc.tokens[1:] == ["e", "-", "procurement", "in", "kazakhstan", ",",
                              "un", "##bel", "##ie", "##va", "##bly", "[SEP]"]
    assert all(vocab[t] == i for t, i in zip(enc.tokens, enc.ids))
    assert embedder.tokenizer.encode("hello world").ids == [101, 7592, 2088, 102]
    assert len(embedder.tokenizer.encode("word " * 1000).ids) == MAX_TOKENS


def test_vectors_are_unit_length_and_mean_what_the_words_mean(embedder):
    texts = ["How do governments publish open data portals?",
             "Public administrations release datasets on open government data websites.",
             "The football match ended in a draw after extra time."]
    v = embedder.embed(texts)
    assert v.shape == (3, DIM) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > 0.5 > v[0] @ v[2]


def test_batching_by_length_changes_no_vector(embedder):
    """Padding is masked out of the mean: a text embedded alone or beside longer ones, in
    any order, gets the same vector."""
    texts = ["short one", "a much longer passage about broadband policy " * 12, "mid length text on e-participation"]
    together = embedder.embed(texts, batch=3)
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=2e-3)
    assert embedder.embed([]).shape == (0, DIM)


def test_batches_respect_rows_and_padded_tokens():
    lengths = [10] * 5 + [300] * 10
    batches = _batches(list(range(15)), lengths, 4)
    assert sum(map(len, batches)) == 15
    for b in batches:
        assert len(b) <= 4 and (len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 2048)


def test_a_model_file_with_another_checksum_is_refused(tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    with pytest.raises(EmbeddingError, match="sha256"):
        Embedder(threads=1, path=fake)
