"""The plugin manager: built-ins plus the ``vhframe`` entry-point group.

A plugin that fails to import or to register is recorded with its error and skipped; the
others keep working. Name collisions between plugins are errors that name both.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from vhframe import hookspecs
from vhframe.hookspecs import FAMILIES, PROJECT

ENTRY_POINT_GROUP = "vhframe"
#: the built-in components, and the torch-free fakes of ``vhframe.testing``
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("vhframe", "vhframe.builtins.plugin"),
    ("testing", "vhframe.testing"),
)


class PluginError(Exception):
    """A plugin problem the user must fix (collision, unknown component)."""


@dataclass(frozen=True)
class Component:
    family: str
    name: str
    plugin: str
    factory: Callable[..., Any]
    description: str = ""


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str
    components: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "components": self.components,
            "error": self.error,
        }


def _short_error(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class PluginManager:
    """Loads plugins and holds the registry of components by family and full name."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs.Hooks)
        self.plugins: dict[str, PluginInfo] = {}
        self.registry: dict[str, dict[str, Component]] = {f: {} for f in FAMILIES}
        self.collisions: list[str] = []

    # ------------------------------------------------------------------ loading
    def load(
        self,
        *,
        entry_points: bool = True,
        extra: Iterable[tuple[str, ModuleType | object]] = (),
    ) -> PluginManager:
        """Load built-ins, then entry points, then ``extra`` (name, plugin object) pairs."""
        for name, module_name in BUILTIN_PLUGINS:
            self._add(name, _importer(module_name), "built-in", dist_version("vhframe"))
        if entry_points:
            for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                version = ep.dist.version if ep.dist is not None else "unknown"
                source = f"entry point {ep.value}"
                if ep.dist is not None:
                    source += f" ({ep.dist.name})"
                self._add(ep.name, ep.load, source, version)
        for name, obj in extra:
            self._add(name, _constant(obj), "in-process", "unknown")
        self._collect()
        return self

    def _add(self, name: str, loader: Callable[[], Any], source: str, version: str) -> None:
        info = PluginInfo(name=name, version=version, source=source)
        self.plugins[name] = info
        if ":" in name:
            info.error = f"plugin name {name!r} must not contain ':'"
            return
        try:
            obj = loader()
            self.pm.register(obj, name=name)
        except Exception as exc:  # isolation: one broken plugin must not hide the rest
            info.error = f"failed to load: {_short_error(exc)}"

    def _collect(self) -> None:
        for family, (hook_name, _contract) in FAMILIES.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in reversed(hook.get_hookimpls()):  # registration order
                info = self.plugins[impl.plugin_name]
                if info.error:
                    continue
                staged: list[Component] = []

                def register(
                    name: str,
                    factory: Callable[..., Any],
                    description: str = "",
                    *,
                    _plugin: str = impl.plugin_name,
                    _family: str = family,
                    _staged: list[Component] = staged,
                ) -> None:
                    if not isinstance(name, str) or not name:
                        raise PluginError(f"component names must be non-empty strings: {name!r}")
                    if not callable(factory):
                        raise PluginError(f"{name!r}: factory {factory!r} is not callable")
                    full = name if ":" in name else f"{_plugin}:{name}"
                    _staged.append(Component(_family, full, _plugin, factory, description))

                try:
                    impl.function(register=register)
                except Exception as exc:
                    info.error = f"{hook_name} failed: {_short_error(exc)}"
                    self._forget(impl.plugin_name)
                    continue
                for comp in staged:
                    existing = self.registry[family].get(comp.name)
                    if existing is not None:
                        self.collisions.append(
                            f"{family} component {comp.name!r} is registered by both plugin "
                            f"{existing.plugin!r} and plugin {comp.plugin!r}"
                        )
                        continue
                    self.registry[family][comp.name] = comp
                    info.components.setdefault(family, []).append(comp.name)

    def _forget(self, plugin: str) -> None:
        for family in self.registry.values():
            for name in [n for n, c in family.items() if c.plugin == plugin]:
                del family[name]
        self.plugins[plugin].components.clear()

    # ------------------------------------------------------------------ lookup
    def check(self) -> None:
        """Raise if plugins collide: a run must not guess which component was meant."""
        if self.collisions:
            raise PluginError("; ".join(self.collisions))

    def get(self, family: str, name: str) -> Component:
        comps = self.registry[family]
        if name in comps:
            return comps[name]
        plugin = name.split(":", 1)[0] if ":" in name else None
        hint = ""
        if plugin and plugin in self.plugins and self.plugins[plugin].error:
            hint = f" (plugin {plugin!r} failed: {self.plugins[plugin].error})"
        elif plugin and plugin not in self.plugins:
            hint = f" (no plugin named {plugin!r} is installed)"
        known = ", ".join(sorted(comps)) or "none"
        raise PluginError(f"unknown {family} component {name!r}{hint}; known: {known}")

    def create(self, family: str, name: str, params: dict[str, Any]) -> Any:
        """Instantiate a component; parameter errors surface as ``ValueError``."""
        comp = self.get(family, name)
        try:
            return comp.factory(**params)
        except TypeError as exc:
            raise ValueError(str(exc)) from exc

    def describe(self) -> list[dict[str, Any]]:
        return [info.to_dict() for info in self.plugins.values()]


def _importer(module: str) -> Callable[[], Any]:
    return lambda: importlib.import_module(module)


def _constant(obj: object) -> Callable[[], Any]:
    return lambda: obj


def dist_version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "unknown"


_DEFAULT: PluginManager | None = None


def get_manager(refresh: bool = False) -> PluginManager:
    """The process-wide manager with built-ins and installed entry points."""
    global _DEFAULT
    if _DEFAULT is None or refresh:
        _DEFAULT = PluginManager().load()
    return _DEFAULT
