"""Checking a created component against its family's protocol and its capabilities.

``isinstance`` with a runtime-checkable protocol only asks whether the names exist; a plugin
whose ``judge`` takes one argument too few would still fail deep inside a run, after hours of
generation. So each method of the family's protocol is looked up and its signature is asked
to accept the arguments the pipeline passes (positionally, as the pipeline calls them), and
each capability (``close``, ``check_model``, ...) the object offers is checked the same way.
"""

from __future__ import annotations

import inspect
from typing import Any

from vhframe.hookspecs import CAPABILITIES, FAMILIES


def _members(protocol: type) -> tuple[list[str], list[str]]:
    """The public methods and the annotated attributes a protocol declares."""
    methods = [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]
    attrs = [n for n in getattr(protocol, "__annotations__", {}) if not n.startswith("_")]
    return methods, attrs


def _arity(protocol: type, method: str) -> int:
    """How many positional arguments the pipeline passes to ``protocol.method``."""
    params = list(inspect.signature(getattr(protocol, method)).parameters.values())
    return sum(1 for p in params[1:] if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _method_problem(obj: Any, protocol: type, method: str) -> str | None:
    fn = getattr(obj, method, None)
    if fn is None:
        return f"method {method!r} is missing"
    if not callable(fn):
        return f"{method!r} is not a method (found {type(fn).__name__})"
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # some callables (C functions) have no signature to read
        return None
    n = _arity(protocol, method)
    expected = list(inspect.signature(getattr(protocol, method)).parameters)[1 : n + 1]
    try:
        sig.bind(*([None] * n))
    except TypeError:
        return f"method {method}({_names(sig)}) cannot be called as {method}({', '.join(expected)})"
    return None


def _names(sig: inspect.Signature) -> str:
    """The parameters as written, without annotations or defaults: what a reader compares."""
    marks: dict[inspect._ParameterKind, str] = {
        inspect.Parameter.VAR_POSITIONAL: "*",
        inspect.Parameter.VAR_KEYWORD: "**",
    }
    return ", ".join(marks.get(p.kind, "") + p.name for p in sig.parameters.values())


def problems(family: str, obj: Any) -> list[str]:
    """Every way ``obj`` breaks the contract of ``family`` or of a capability it offers."""
    found: list[str] = []
    _hook, protocol = FAMILIES[family]
    methods, attrs = _members(protocol)
    for attr in attrs:
        if not hasattr(obj, attr):
            found.append(f"attribute {attr!r} is missing")
    for method in methods:
        problem = _method_problem(obj, protocol, method)
        if problem:
            found.append(problem)
    for capability in CAPABILITIES:
        for method in _members(capability)[0]:
            if hasattr(obj, method):
                problem = _method_problem(obj, capability, method)
                if problem:
                    found.append(problem)
    return found
