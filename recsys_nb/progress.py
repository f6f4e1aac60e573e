"""One progress bar for long runs (report configurations, sweeps, users scored).

A plain-text bar (``tqdm.std``) rather than the notebook widget: executed notebooks and their
HTML reports keep no widget state, and a text bar reads the same in a terminal, in JupyterLab
and in a saved report.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress_bar(items: Iterable[T], desc: str, *, enabled: bool = True,
                 total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` with a text progress bar on stderr (or silently when not ``enabled``)."""
    if not enabled:
        yield from items
        return
    from tqdm.std import tqdm

    yield from tqdm(items, desc=desc, total=total, file=sys.stderr, mininterval=1.0,
                    dynamic_ncols=False, ncols=90, leave=True)
