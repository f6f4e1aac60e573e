"""The fixed reference set of all-MiniLM-L6-v2 embeddings (tests/data/minilm_reference.json):
20 texts (empty, 1-char, unicode, > 256 tokens) with the official sentence-transformers output,
normalized. Shared by the embedding tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())
REF_TEXTS: list[str] = [item["text"] for item in REFERENCE["items"]]
REF_VECTORS = np.array([item["embedding"] for item in REFERENCE["items"]], dtype=np.float64)
REF_VECTORS /= np.linalg.norm(REF_VECTORS, axis=1, keepdims=True)
