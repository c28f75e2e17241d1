"""The in-process executor runs every task once, in order, and pairs it with its result."""

from __future__ import annotations

from vhframe.builtins.executors import LocalExecutor


def test_map_pairs_each_task_with_its_result_in_order() -> None:
    calls: list[int] = []

    def square(x: int) -> int:
        calls.append(x)
        return x * x

    results = LocalExecutor().map(square, iter([3, 1, 2]))
    assert calls == []  # lazily: a task runs when its result is asked for
    assert list(results) == [(3, 9), (1, 1), (2, 4)]
    assert calls == [3, 1, 2]


def test_fingerprint() -> None:
    assert LocalExecutor().fingerprint() == {"executor": "local"}
