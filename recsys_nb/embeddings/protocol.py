"""The protocol every embedding model follows: ``texts -> (n, d) float32``, unit rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class EmbeddingModel(Protocol):
    """A text embedding model: ``model(texts)`` -> ``(len(texts), model.dim)`` float32, unit rows.

    ``id`` names the vector space (e.g. ``"all-MiniLM-L6-v2-int8"``): caches and collections are
    keyed by it, so two models whose vectors differ must have different ids.
    """

    id: str
    dim: int

    def __call__(self, texts: Sequence[str]) -> np.ndarray: ...


def validate_texts(texts: Sequence[str]) -> list[str]:
    """Return ``texts`` as a list of str, or raise ``TypeError`` naming the first bad element.

    A single ``str`` is refused too: it is a sequence of characters, and embedding each character
    is never what the caller meant.
    """
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"texts is a single {type(texts).__name__} ({texts[:40]!r}); pass a list of strings, "
            "e.g. [text]"
        )
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(
                f"texts[{i}] is {type(text).__name__} ({text!r:.40}), not str; convert or drop it "
                "first (e.g. items['text'].fillna('').astype(str))"
            )
    return out


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalize the rows of ``x`` (float32); rows of zeros stay zero (callers prevent them)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)

