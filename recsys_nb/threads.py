"""One lock per service object, so any thread of the process may call it.

Widget callbacks in a current JupyterLab (ipykernel 7) can run on another thread than the one
that built the service; two callbacks can also overlap. Objects holding an SQLite connection or
a read-modify-write of a stored vector (``EventLog``, ``Recommender``) therefore run each public
method under their own re-entrant lock (``self._mutex``): a method that calls another of the same
object does not deadlock, and two threads never interleave inside one update.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

Method = TypeVar("Method", bound=Callable[..., Any])


def serialized(method: Method) -> Method:
    """Decorate a method so it runs under ``self._mutex`` (a ``threading.RLock``)."""

    @wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._mutex:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]
