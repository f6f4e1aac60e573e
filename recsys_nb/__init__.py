"""recsys_nb: personalized recommendation with embeddings, taught in notebooks.

Layers (imports point downwards only):

- presentation: ``widgets``, ``plots``
- service: ``recommender``
- storage / models / evaluation: ``store``, ``embeddings``, ``evaluate``
- foundations: ``vectors`` (pure numpy math), ``data`` (datasets)
"""

__version__ = "0.1.0"
