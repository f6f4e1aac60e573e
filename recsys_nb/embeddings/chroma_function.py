"""The Chroma embedding function (registered by name, so collections reopen in new processes)."""

from __future__ import annotations

import functools
from typing import Any

from recsys_nb.embeddings.minilm import MINILM_BACKENDS, MiniLM, get_minilm

# --------------------------------------------------------------------------------------------
# Chroma embedding function (class created on first access: importing chromadb takes seconds)
# --------------------------------------------------------------------------------------------

CHROMA_EF_NAME = "recsys_nb_minilm"


@functools.cache
def _chroma_embedding_function_class() -> type:
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
        """all-MiniLM-L6-v2 (this package's :class:`MiniLM`) as a Chroma embedding function.

        Pass it on ``create_collection`` *and* ``get_collection`` (Chroma's default function
        would download a model). Its config (the backend) is stored with the collection, so a new
        process that imports ``recsys_nb.embeddings.ChromaEmbeddingFunction`` reopens it cleanly.
        Use a cosine collection; the vectors are unit length.
        """

        def __init__(self, backend: str = "onnx", *, model: MiniLM | None = None) -> None:
            if model is not None:
                backend = model.backend
            if backend not in MINILM_BACKENDS:
                raise ValueError(
                    f"backend={backend!r} is unknown; use one of {sorted(MINILM_BACKENDS)}"
                )
            self.backend = backend
            self._model = model

        @property
        def model(self) -> MiniLM:
            """The wrapped model (the process-wide shared one unless one was passed)."""
            if self._model is None:
                self._model = get_minilm(self.backend)
            return self._model

        def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - Chroma's signature
            return list(self.model(list(input)))

        @staticmethod
        def name() -> str:
            return CHROMA_EF_NAME

        def get_config(self) -> dict[str, Any]:
            return {"backend": self.backend, "model_id": MINILM_BACKENDS[self.backend]}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
            ChromaEmbeddingFunction.validate_config(config)
            return ChromaEmbeddingFunction(config.get("backend", "onnx"))

        @staticmethod
        def validate_config(config: dict[str, Any]) -> None:
            backend = config.get("backend", "onnx")
            if backend not in MINILM_BACKENDS:
                raise ValueError(
                    f"embedding function config has backend={backend!r}; "
                    f"known: {sorted(MINILM_BACKENDS)}"
                )

        def is_legacy(self) -> bool:
            return False

        def default_space(self) -> str:  # type: ignore[override]
            return "cosine"

        def supported_spaces(self) -> list[str]:  # type: ignore[override]
            return ["cosine"]

    ChromaEmbeddingFunction.__qualname__ = "ChromaEmbeddingFunction"
    # The public path (a new process imports it from there); chroma finds it by name().
    ChromaEmbeddingFunction.__module__ = "recsys_nb.embeddings"
    return ChromaEmbeddingFunction


def __getattr__(name: str) -> Any:
    if name == "ChromaEmbeddingFunction":
        return _chroma_embedding_function_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


