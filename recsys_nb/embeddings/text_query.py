"""Free-text queries into a wider (hybrid) space whose first block is a text model's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsys_nb.embeddings.protocol import EmbeddingModel


class TextQueryModel:
    """Embeds free-text queries into a wider space whose first block is a text model's space.

    Used for hybrid item vectors ``[sqrt(w) * text, sqrt(1 - w) * collaborative]``: a query has no
    collaborative part, so it becomes ``[text, 0, ..., 0]``; its cosine with a hybrid item is then
    ``sqrt(w) * cos(query, item text)``, i.e. ranking by text similarity, in the hybrid collection.
    """

    def __init__(self, text_model: EmbeddingModel, dim: int, space_id: str) -> None:
        if dim < text_model.dim:
            raise ValueError(f"dim={dim} is smaller than the text model's {text_model.dim}")
        self.text_model = text_model
        self.dim = int(dim)
        self.id = f"{space_id}/text-query"

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, dim)`` float32 unit rows: the text vector, zero-padded."""
        text_vectors = self.text_model(texts)
        out = np.zeros((len(text_vectors), self.dim), dtype=np.float32)
        out[:, : text_vectors.shape[1]] = text_vectors
        return out


