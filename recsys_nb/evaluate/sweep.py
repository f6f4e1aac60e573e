"""Parameter sweeps: :func:`evaluate` over a validated grid (a Cartesian product)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from recsys_nb.evaluate.metrics import DEFAULT_CUTOFFS
from recsys_nb.evaluate.product import RecommenderFactory, evaluate
from recsys_nb.evaluate.splits import Split
from recsys_nb.parameters import Rule, check_lists, choice, integer, number, raise_problems

EMBEDDING_CHOICES = ("default", "minilm", "collaborative", "hybrid", "blend")

#: Known sweep parameters: name -> (check, what a valid value is). Extend with ``space=``.
SWEEP_SPACE: dict[str, Rule] = {
    "alpha_view": number(0, 1, open_low=True),
    "alpha_favorite": number(0, 1, open_low=True),
    "not_interested_factor": number(0),
    "popularity_weight": number(0),
    "embedding": choice(EMBEDDING_CHOICES),
    "dim": integer(2),
    "text_weight": number(0, 1, open_low=True, open_high=True),
    "window": integer(2),
    "momentum_weight": number(0),
    "seed": integer(0),
}


def validate_grid(
    grid: Mapping[str, Sequence[Any]],
    space: Mapping[str, Rule] | None = None,
) -> dict[str, list[Any]]:
    """Check a sweep grid before any run; return it as ``{name: list}``.

    Raises:
        ValueError: naming unknown parameters (with the known ones), values that are not lists,
            empty lists, repeated values and out-of-range values (with the valid range).
    """
    space = {**SWEEP_SPACE, **(space or {})}
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(f"grid must be a non-empty dict of lists, e.g. {{'alpha_view': [0.1, "
                         f"0.3]}}; got {grid!r}")
    unknown = [n for n in grid if n not in space]
    if unknown:
        raise ValueError(
            f"unknown sweep parameter(s) {unknown}; known: {sorted(space)} "
            "(pass space= to add your own)"
        )
    out, problems = check_lists(grid, space)
    raise_problems(problems, "invalid sweep grid")
    return out


def sweep(
    factory_for_params: Callable[..., RecommenderFactory],
    split: Split,
    grid: Mapping[str, Sequence[Any]],
    cutoffs: int | Iterable[int] = DEFAULT_CUTOFFS,
    *,
    space: Mapping[str, Rule] | None = None,
    relevance: str = "positive",
    progress: bool = False,
) -> pd.DataFrame:
    """Evaluate every combination of a parameter grid (a Cartesian product).

    ``factory_for_params(**params)`` returns a recommender factory for one combination, e.g.
    ``lambda alpha_view: (lambda ds, p: Recommender.from_dataset(ds, p, progress=False,
    alpha_view=alpha_view))``. The grid is validated first (:func:`validate_grid`), so a typo
    fails before minutes of work. For memoized runs over one prepared split, see
    :class:`recsys_nb.experiment.Experiment`.

    Returns:
        One row per combination: the parameter columns, then :func:`evaluate`'s row.
    """
    from recsys_nb.progress import progress_bar

    checked = validate_grid(grid, space)
    names = list(checked)
    combos = list(itertools.product(*(checked[n] for n in names)))
    rows = []
    for values in progress_bar(combos, "configurations", enabled=progress):
        params = dict(zip(names, values, strict=True))
        result = evaluate(factory_for_params(**params), split, cutoffs, relevance=relevance)
        rows.append({**params, **result.row})
    return pd.DataFrame(rows)
