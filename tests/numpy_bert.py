"""The exact fp32 reference of all-MiniLM-L6-v2: the BERT encoder in plain numpy (tests only).

The original ``model.safetensors`` (sha256-checked inside the packaged ``model.zip``) run in numpy:
cosine 1.0000 to the official sentence-transformers vectors, ~4x slower than the int8 onnxruntime
model the package uses. It checks that the int8 weights cost almost nothing in accuracy.
"""

from __future__ import annotations

import numpy as np

from recsys_nb.embeddings.integrity import _read_verified_zip_member
from recsys_nb.embeddings.minilm import DIM, MiniLM

#: The id this reference's vectors would have (they differ from the int8 model's).
FP32_MODEL_ID = "all-MiniLM-L6-v2-fp32"


def _load_safetensors() -> dict[str, np.ndarray]:
    from safetensors.numpy import load

    return load(_read_verified_zip_member("model.safetensors"))


def numpy_minilm() -> MiniLM:
    """A :class:`MiniLM` (same tokenizer, batching, pooling) with :class:`NumpyBert` inside."""
    model = MiniLM()
    model.backend, model.id = "numpy", FP32_MODEL_ID
    model._forward = NumpyBert(_load_safetensors()).forward
    return model


class NumpyBert:
    """BERT encoder forward pass in numpy (fp32), the exact fp32 reference."""

    def __init__(self, weights: dict[str, np.ndarray], heads: int = 12, eps: float = 1e-12) -> None:
        self.w = {k: v.astype(np.float32) for k, v in weights.items() if v.dtype != np.int64}
        self.heads, self.eps = heads, eps
        for layer in range(6):  # transpose once: x @ W.T -> x @ Wt
            p = f"encoder.layer.{layer}."
            for name in (
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
                "intermediate.dense",
                "output.dense",
            ):
                self.w[p + name + ".wt"] = np.ascontiguousarray(self.w[p + name + ".weight"].T)

    def _ln(self, x: np.ndarray, prefix: str) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.eps) * self.w[prefix + ".weight"] + self.w[
            prefix + ".bias"
        ]

    def _dense(self, x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ self.w[prefix + ".wt"] + self.w[prefix + ".bias"]

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        from scipy.special import erf

        w, b, s = self.w, ids.shape[0], ids.shape[1]
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:s]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min).astype(
            np.float32
        )
        hd = DIM // self.heads
        for layer in range(6):
            p = f"encoder.layer.{layer}."

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(b, s, self.heads, hd).transpose(0, 2, 1, 3)

            q = split(self._dense(x, p + "attention.self.query"))
            k = split(self._dense(x, p + "attention.self.key"))
            v = split(self._dense(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(hd)) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = scores / scores.sum(-1, keepdims=True)
            ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(b, s, DIM)
            x = self._ln(
                x + self._dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm"
            )
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / np.float32(np.sqrt(2.0))))
            x = self._ln(
                x + self._dense(h.astype(np.float32), p + "output.dense"), p + "output.LayerNorm"
            )
        return x.astype(np.float32)


