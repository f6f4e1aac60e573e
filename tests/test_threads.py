"""recsys_nb.threads: ``serialized`` methods of one object never run at the same time."""

from __future__ import annotations

import threading

from recsys_nb.threads import serialized


class Service:
    def __init__(self) -> None:
        self._mutex = threading.RLock()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.log: list[str] = []

    @serialized
    def slow(self, name: str) -> str:
        """Docstring kept."""
        self.log.append(f"{name} in")
        self.entered.set()
        self.release.wait(timeout=30)
        self.log.append(f"{name} out")
        return name

    @serialized
    def outer(self) -> str:
        return "outer+" + self.inner()  # re-entrant: no deadlock

    @serialized
    def inner(self) -> str:
        return "inner"


def test_a_second_thread_waits_until_the_first_call_returns():
    svc = Service()
    first = threading.Thread(target=svc.slow, args=("a",))
    first.start()
    assert svc.entered.wait(timeout=30)
    second = threading.Thread(target=svc.slow, args=("b",))
    second.start()
    second.join(timeout=0.3)
    assert second.is_alive() and svc.log == ["a in"]  # b is blocked on the lock, not inside
    svc.release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert svc.log == ["a in", "a out", "b in", "b out"]


def test_serialized_methods_may_call_each_other_and_keep_their_metadata():
    svc = Service()
    assert svc.outer() == "outer+inner"
    assert Service.slow.__name__ == "slow" and Service.slow.__doc__ == "Docstring kept."
