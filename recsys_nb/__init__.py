"""recsys_nb: personalized recommendation with embeddings, taught in notebooks.

Layers (imports point downwards only):

- presentation: ``widgets``, ``plots``, ``snapshot``
- service: ``recommender``
- storage / models / evaluation: ``store``, ``eventlog``, ``embeddings``, ``evaluate``
- foundations: ``vectors`` (pure numpy math), ``data`` (datasets), ``threads``

``from recsys_nb import Recommender, load_movielens`` works; the names are imported on first use,
so ``import recsys_nb`` stays light (the service pulls in chromadb and onnxruntime).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "Recommender": "recsys_nb.recommender",
    "Dataset": "recsys_nb.data",
    "load_movielens": "recsys_nb.data",
    "EventLog": "recsys_nb.eventlog",
    "ItemStore": "recsys_nb.store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'recsys_nb' has no attribute {name!r}")
