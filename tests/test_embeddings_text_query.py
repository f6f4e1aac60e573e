"""recsys_nb.embeddings.text_query: free-text queries into a hybrid [text, collaborative] space."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_nb.embeddings import EmbeddingModel, TextQueryModel


class TwoWordModel:
    """A 2-d text model: "cat" -> (1, 0), "dog" -> (0, 1), anything else -> (0.6, 0.8)."""

    id = "two-words"
    dim = 2

    def __call__(self, texts):
        table = {"cat": [1.0, 0.0], "dog": [0.0, 1.0]}
        return np.array([table.get(t, [0.6, 0.8]) for t in texts], dtype=np.float32).reshape(-1, 2)


def test_queries_are_the_text_vector_zero_padded():
    model = TextQueryModel(TwoWordModel(), 5, "hybrid-w0.36")
    assert isinstance(model, EmbeddingModel)
    assert (model.id, model.dim) == ("hybrid-w0.36/text-query", 5)
    out = model(["cat", "other"])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[1, 0, 0, 0, 0], [0.6, 0.8, 0, 0, 0]], atol=1e-7)
    # cosine with a hybrid item [sqrt(w) * text, sqrt(1 - w) * collab] = sqrt(w) * text cosine
    w = 0.36
    item = np.concatenate([np.sqrt(w) * np.array([0.6, 0.8]), np.sqrt(1 - w) * np.array([1, 0, 0])])
    np.testing.assert_allclose(out @ item, [0.6 * 0.6, 0.6 * 1.0], atol=1e-6)
    assert model([]).shape == (0, 5)


def test_a_space_narrower_than_the_text_model_is_refused():
    with pytest.raises(ValueError, match="dim=1 is smaller than the text model's 2"):
        TextQueryModel(TwoWordModel(), 1, "x")
