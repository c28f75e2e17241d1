"""The in-process executor: tasks run one after another, in order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class LocalExecutor:
    """``vhframe:local``: run tasks in this process. Heavy models stay loaded between tasks."""

    def fingerprint(self) -> dict[str, Any]:
        return {"executor": "local"}

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[tuple[T, R]]:
        for task in tasks:
            yield task, fn(task)
