"""Item vector models behind one protocol: ``texts -> (n, d) float32`` with unit-length rows.

One idea per module:

- :mod:`.protocol` -- :class:`EmbeddingModel` (``id``, ``dim``, ``__call__``; the ``id`` names the
  vector space: vectors with different ids are never mixed) and :func:`validate_texts`.
- :mod:`.integrity` -- sha256 checks of the packaged model files (:class:`ModelIntegrityError`).
- :mod:`.onnx_graph` -- the shipped int8 graph rebuilt once per process into a fused one.
- :mod:`.minilm` -- :class:`MiniLM` (all-MiniLM-L6-v2 in onnxruntime, offline, no PyTorch),
  :func:`get_minilm`, the tokenizer and length-sorted token batches.
- :mod:`.cache` -- :class:`EmbeddingCache` / :class:`CachedEmbedder` (SQLite keyed by model id and
  sha256 of the text) and :func:`learned_cached` (learned vectors as ``.npy``).
- :mod:`.chroma_function` -- ``ChromaEmbeddingFunction``, created on first access (importing this
  package does not import chromadb), registered so a collection reopens in a new process.
- :mod:`.learned` -- SVD and sequence (PPMI) item vectors from events, their model ids, the blend.
- :mod:`.text_query` -- :class:`TextQueryModel`: free-text queries into a hybrid space.

This module: :func:`embed_items` -> :class:`ItemVectors`, item vectors by name ("minilm",
"collaborative", "hybrid", "blend"), aligned with ``items["item_id"]``; it re-exports the public
names of the modules above.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_nb.embeddings.cache import CachedEmbedder, EmbeddingCache, learned_cached, text_key
from recsys_nb.embeddings.integrity import (
    ONNX_FILE,
    ONNX_PACKAGE,
    ONNX_SHA256,
    ZIP_MEMBER_SHA256,
    ZIP_PACKAGE,
    ModelIntegrityError,
)
from recsys_nb.embeddings.learned import (
    BLEND_SEQUENCE_WEIGHT,
    SVD_WEIGHTINGS,
    blend_item_embeddings,
    blend_model_id,
    collaborative_model_id,
    sequence_item_embeddings,
    sequence_model_id,
    svd_item_embeddings,
)
from recsys_nb.embeddings.minilm import DIM, MAX_SEQ_LENGTH, MINILM_BACKENDS, MiniLM, get_minilm
from recsys_nb.embeddings.protocol import EmbeddingModel, _unit_rows, validate_texts
from recsys_nb.embeddings.text_query import TextQueryModel

__all__ = [
    "BLEND_SEQUENCE_WEIGHT",
    "DIM",
    "EMBEDDING_NAMES",
    "MAX_SEQ_LENGTH",
    "MINILM_BACKENDS",
    "ONNX_FILE",
    "ONNX_PACKAGE",
    "ONNX_SHA256",
    "SVD_WEIGHTINGS",
    "ZIP_MEMBER_SHA256",
    "ZIP_PACKAGE",
    "CachedEmbedder",
    "EmbeddingCache",
    "EmbeddingModel",
    "ItemVectors",
    "MiniLM",
    "ModelIntegrityError",
    "TextQueryModel",
    "blend_item_embeddings",
    "blend_model_id",
    "collaborative_model_id",
    "embed_items",
    "get_minilm",
    "learned_cached",
    "sequence_item_embeddings",
    "sequence_model_id",
    "svd_item_embeddings",
    "text_key",
    "validate_texts",
]


def __getattr__(name: str) -> Any:
    # ChromaEmbeddingFunction is built on first access: importing chromadb takes seconds.
    if name == "ChromaEmbeddingFunction":
        from recsys_nb.embeddings.chroma_function import _chroma_embedding_function_class

        return _chroma_embedding_function_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------------------------
# Item vectors by name
# --------------------------------------------------------------------------------------------

EMBEDDING_NAMES = ("minilm", "collaborative", "hybrid", "blend")


@dataclass(frozen=True, eq=False)
class ItemVectors:
    """Item vectors of one embedding space, aligned with ``item_ids``.

    Attributes:
        model_id: names the space (collections and caches are keyed by it).
        item_ids: ``(n,)`` int64, the items in row order.
        vectors: ``(n, d)`` float32, unit rows.
        text_model: embeds free-text queries into this space (``None`` for collaborative vectors,
            which have no text side).
    """

    model_id: str
    item_ids: np.ndarray
    vectors: np.ndarray
    text_model: EmbeddingModel | None

    @property
    def dim(self) -> int:
        """Vector size ``d``."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.item_ids)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        return zip(self.item_ids.tolist(), self.vectors, strict=True)




def embed_items(
    items: pd.DataFrame,
    events: pd.DataFrame | None = None,
    embedding: str = "minilm",
    *,
    cache_path: str | os.PathLike[str] | None = None,
    dim: int = 64,
    seed: int = 0,
    progress: bool = True,
    text_weight: float = 0.3,
    model: EmbeddingModel | None = None,
) -> ItemVectors:
    """Vectors for every row of ``items`` (``item_id``, ``text``, ``genres``) in one named space.

    Args:
        embedding: ``"minilm"`` (``items["text"]`` through all-MiniLM-L6-v2, 384-d),
            ``"collaborative"`` (:func:`svd_item_embeddings` of ``events``, ``dim``-d) or
            ``"hybrid"``: ``[sqrt(w) * text, sqrt(1 - w) * collaborative]`` with
            ``w = text_weight``, so the hybrid cosine is exactly ``w * text cosine +
            (1 - w) * collaborative cosine`` (384 + ``dim`` dimensions);
            ``"blend"``: ``[sqrt(.5) * sequence, sqrt(.5) * svd]`` of
            :func:`sequence_item_embeddings` and :func:`svd_item_embeddings` (``power=0.5``),
            ``dim`` each, so its cosine is the mean of the two cosines (2 * ``dim`` dimensions):
            what follows what in users' histories plus who-watched-what overall. Measured with
            the Recommender on MovieLens (notebook 06): the best single-vector embedding.
        cache_path: SQLite embedding cache for the text vectors (callers pass
            ``data/cache/embeddings.sqlite``); ``None`` computes without caching.
        model: the text model (default: the shared :func:`get_minilm`).
    """
    if embedding not in EMBEDDING_NAMES:
        raise ValueError(f"embedding={embedding!r} is unknown; use one of {list(EMBEDDING_NAMES)}")
    if "item_id" not in items.columns:
        raise ValueError("items lacks an item_id column; load items with recsys_nb.data")
    item_ids = items["item_id"].to_numpy(dtype=np.int64)
    if not 0.0 < text_weight < 1.0 and embedding == "hybrid":
        raise ValueError(f"text_weight={text_weight} is outside (0, 1); pass a value like 0.3")

    def text_vectors() -> tuple[str, np.ndarray, EmbeddingModel]:
        if "text" not in items.columns:
            raise ValueError("items lacks a text column (e.g. 'Toy Story (1995): Adventure, ...')")
        base = model if model is not None else get_minilm()
        embedder: EmbeddingModel = (
            CachedEmbedder(base, cache_path, progress=progress) if cache_path else base
        )
        texts = items["text"].tolist()
        if isinstance(embedder, CachedEmbedder | MiniLM):
            vecs = embedder(texts, progress=progress)
        else:
            vecs = embedder(texts)
        return embedder.id, vecs, embedder

    def collaborative_vectors() -> tuple[str, np.ndarray]:
        if events is None:
            raise ValueError(
                f"embedding={embedding!r} learns from events; pass events (e.g. dataset.events)"
            )
        model_id = collaborative_model_id(events, dim, seed)
        vecs = learned_cached(cache_path, model_id, items, lambda: svd_item_embeddings(
            events, item_ids, dim=dim, seed=seed, items=items))
        return model_id, vecs

    if embedding == "minilm":
        model_id, vectors, text_model = text_vectors()
        return ItemVectors(model_id, item_ids, vectors, text_model)
    if embedding == "collaborative":
        model_id, vectors = collaborative_vectors()
        return ItemVectors(model_id, item_ids, vectors, None)
    if embedding == "blend":
        if events is None:
            raise ValueError("embedding='blend' learns from events; pass events (dataset.events)")
        model_id = blend_model_id(events, dim, seed)

        def blend() -> np.ndarray:
            return blend_item_embeddings(events, item_ids, dim=dim, seed=seed, items=items)

        vectors = learned_cached(cache_path, model_id, items, blend)
        return ItemVectors(model_id, item_ids, vectors.astype(np.float32), None)
    text_id, tvec, text_model = text_vectors()
    collab_id, cvec = collaborative_vectors()
    hybrid = np.hstack([np.sqrt(text_weight) * tvec, np.sqrt(1.0 - text_weight) * cvec])
    model_id = f"hybrid{text_weight:g}-{text_id}+{collab_id}"
    return ItemVectors(
        model_id,
        item_ids,
        _unit_rows(hybrid),
        TextQueryModel(text_model, hybrid.shape[1], model_id),
    )
