"""The machinery of the measured lessons (notebooks 04-06, 08, 10), one module per notebook.

Each module holds what its notebook would otherwise carry in long code cells: the report's
parameters checked as one config object (the same clear errors at the parameters cell, now
unit-tested), and the orchestration of its measurements through ``recsys_nb.experiment`` and
``recsys_nb.evaluate``. The notebooks keep the narrative, the small teaching code and one call per
step, like ``benchmark_utils`` in recommenders-team/recommenders.
"""
