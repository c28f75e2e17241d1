"""TOML → validated run settings.

Every error names the file, the key path (``generation.top_p``), the line where the key is
written when it can be found, and what was expected; an unknown key or section also names the
nearest valid one. All the errors of a file are reported at once, in the order of its lines.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vhframe.errors import ConfigError, combine
from vhframe.records import content_hash

COMPONENT_NAME = re.compile(r"^[A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ComponentRef(_Strict):
    """A plugin component: ``use = "<plugin>:<name>"`` plus its ``params`` table."""

    use: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("use")
    @classmethod
    def _name(cls, v: str) -> str:
        if not COMPONENT_NAME.match(v):
            raise ValueError(f"expected a component name like 'plugin:name', found {v!r}")
        return v


class RunSettings(_Strict):
    name: str = "run"
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42
    out_dir: str = "runs/run"
    cache_dir: str | None = None
    device: Literal["auto", "cpu", "cuda"] = "cpu"


class ModelSettings(_Strict):
    base: str = "builtin:tiny-llama"


class ProfileSettings(ComponentRef):
    use: str = "vhframe:extreme"
    limit: Annotated[int, Field(ge=1)] | None = None


class BenignSettings(_Strict):
    """A benign fine-tuning baseline: a task dataset trained into one adapter."""

    name: str
    data: ComponentRef
    trainer: ComponentRef | None = None  # alignment.trainer when absent

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        # the name becomes part of a subject name and an adapter folder name
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", v):
            raise ValueError(f"expected letters, digits, '_', '.' or '-', found {v!r}")
        return v


class AlignmentSettings(_Strict):
    trainer: ComponentRef | None = None
    baselines: list[Literal["base", "roleplay"]] = Field(
        default_factory=lambda: ["base"]  # type: ignore[arg-type]
    )
    benign: list[BenignSettings] = Field(default_factory=list)


class SurveySettings(ComponentRef):
    """The alignment check: a value survey every subject answers."""

    use: str = "vhframe:pvq40"
    max_new_tokens: Annotated[int, Field(ge=1, le=8192)] | None = None


class GenerationSettings(ComponentRef):
    use: str = "hf:batched"
    temperature: Annotated[float, Field(ge=0.0, le=5.0)] = 0.1
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 0.75
    max_new_tokens: Annotated[int, Field(ge=1, le=8192)] | None = None
    samples: Annotated[int, Field(ge=1, le=1000)] | None = None


class BenchmarkRef(ComponentRef):
    limit: Annotated[int, Field(ge=1)] | None = None
    max_new_tokens: Annotated[int, Field(ge=1, le=8192)] | None = None
    samples: Annotated[int, Field(ge=1, le=1000)] | None = None


class AnalysisSettings(_Strict):
    alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    min_subjects: Annotated[int, Field(ge=3)] = 12
    bootstrap: Annotated[int, Field(ge=0, le=1_000_000)] = 2000
    ci_method: Literal["percentile", "bca"] = "percentile"
    adjust: Literal["bh", "holm", "none"] = "bh"


class ReportSettings(_Strict):
    reporters: list[str] = Field(default_factory=lambda: ["vhframe:html", "vhframe:json"])
    open: bool = False

    @field_validator("reporters")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not COMPONENT_NAME.match(name):
                raise ValueError(f"expected component names like 'plugin:name', found {name!r}")
        return v


class Config(_Strict):
    run: RunSettings = Field(default_factory=RunSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    profiles: ProfileSettings = Field(default_factory=ProfileSettings)
    values: ComponentRef | None = None
    alignment: AlignmentSettings = Field(default_factory=AlignmentSettings)
    survey: SurveySettings | None = None
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    benchmarks: Annotated[list[BenchmarkRef], Field(min_length=1)]
    judges: Annotated[list[ComponentRef], Field(min_length=1)]
    mitigations: list[ComponentRef] = Field(default_factory=list)
    executor: ComponentRef = Field(default_factory=lambda: ComponentRef(use="vhframe:local"))
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)


class LoadedConfig:
    """A validated config with where it came from, for error messages and path resolution."""

    def __init__(self, config: Config, path: Path, text: str, raw: dict[str, Any]) -> None:
        self.config = config
        self.path = path
        self.text = text
        self.raw = raw
        self.hash = content_hash(raw)

    @property
    def dir(self) -> Path:
        return self.path.parent

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=str(self.path), key=key, line=locate(self.text, key))

    def out_dir(self) -> Path:
        return Path(self.config.run.out_dir).expanduser()

    def cache_dir(self) -> Path:
        if self.config.run.cache_dir:
            return self.resolve(self.config.run.cache_dir)
        env = os.environ.get("VHFRAME_CACHE")
        if env:
            return Path(env).expanduser()
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(xdg) / "vhframe"

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.dir / p


def _describe_type(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _lookup(raw: Any, loc: tuple[int | str, ...]) -> Any:
    cur = raw
    for part in loc:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _unwrap(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The settings model a field holds, directly or as the elements of an array, and whether
    it is an array; ``(None, False)`` for a plain value."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        annotation = args[0]
    is_list = get_origin(annotation) is list
    inner = get_args(annotation)[0] if is_list else annotation
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return inner, is_list
    return None, False


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The settings model of the table at ``loc`` (array indices skipped)."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        model = _unwrap(field.annotation)[0]
    return model


def _table_name(loc: tuple[int | str, ...]) -> str:
    """``[generation]``, ``[[benchmarks]]``: how the table at ``loc`` is written in TOML."""
    name = ".".join(str(p) for p in loc if isinstance(p, str))
    return f"[[{name}]]" if loc and isinstance(loc[-1], int) else f"[{name}]"


def _section(name: str) -> str:
    """A top-level name as it is written: ``[generation]``, ``[[judges]]``."""
    inner, is_list = _unwrap(Config.model_fields[name].annotation)
    if inner is None:
        return repr(name)
    return f"[[{name}]]" if is_list else f"[{name}]"


def _tables() -> list[tuple[tuple[str, ...], type[BaseModel], bool]]:
    """Every table of the schema: its path, model and whether it is an array of tables."""
    out: list[tuple[tuple[str, ...], type[BaseModel], bool]] = []

    def walk(path: tuple[str, ...], model: type[BaseModel], is_list: bool) -> None:
        out.append((path, model, is_list))
        for name, field in model.model_fields.items():
            inner, inner_list = _unwrap(field.annotation)
            if inner is not None:
                walk((*path, name), inner, inner_list)

    walk((), Config, False)
    return out


def _elsewhere(name: str, container: tuple[int | str, ...]) -> list[str]:
    """The other tables that have a key spelt exactly ``name`` (a key under the wrong header)."""
    here = tuple(str(p) for p in container if isinstance(p, str))
    found = []
    for path, model, is_list in _tables():
        if path != here and path and name in model.model_fields:
            dotted = ".".join(path)
            found.append(f"[[{dotted}]]" if is_list else f"[{dotted}]")
    return found


def _unknown(loc: tuple[int | str, ...], raw: dict[str, Any], missing: set[tuple[Any, ...]]) -> str:
    """The message for a key the schema does not have, with the nearest valid name. A
    suggestion that names a missing required key is marked so (and ``missing`` loses it),
    so that ``[[judge]]`` and the absent ``[[judges]]`` read as one mistake."""
    container, name = loc[:-1], str(loc[-1])
    found = _lookup(raw, loc)
    if container:
        what = f"unknown key {name!r} in {_table_name(container)}"
    elif isinstance(found, dict):
        what = f"unknown section [{name}]"
    elif isinstance(found, list) and found and all(isinstance(v, dict) for v in found):
        what = f"unknown section [[{name}]]"
    else:
        what = f"unknown top-level key {name!r}"
    model = _model_at(container)
    if model is None:
        return what
    names = list(model.model_fields)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        suggestion = repr(close[0]) if container else _section(close[0])
        if (*container, close[0]) in missing:
            missing.discard((*container, close[0]))
            return f"{what}; did you mean {suggestion}, which is required?"
        return f"{what}; did you mean {suggestion}?"
    places = _elsewhere(name, container)
    if 0 < len(places) <= 3:
        return f"{what}; it belongs in {' or '.join(places)}"
    hint = f"{what}; expected one of: {', '.join(names)}"
    if issubclass(model, ComponentRef):
        # the usual cause: a setting of the component itself, written beside `use`
        hint += " (settings of the component itself go in params)"
    return hint


def _message(err: Any, raw: dict[str, Any], missing: set[tuple[Any, ...]]) -> str:
    kind = err["type"]
    loc = tuple(err["loc"])
    found = _lookup(raw, loc)
    if kind == "extra_forbidden":
        return _unknown(loc, raw, missing)
    if kind == "missing":
        if len(loc) == 1 and str(loc[0]) in Config.model_fields:
            spelt = _section(str(loc[0]))
            if spelt.startswith("["):
                return f"required key is missing; add a {spelt} section"
        return "required key is missing"
    ctx = err.get("ctx") or {}
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        op = {
            "greater_than_equal": ">=",
            "greater_than": ">",
            "less_than_equal": "<=",
            "less_than": "<",
        }[kind]
        bound = next(iter(ctx.values()))
        return f"expected a value {op} {bound}, found {found!r}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, found {found!r}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} entr(y/ies), found {len(found or [])}"
    # strict models never coerce, so every wrong-type error is a "*_type" kind
    if kind.endswith("_type"):
        expected = {
            "int_type": "an integer",
            "float_type": "a number",
            "string_type": "a string",
            "bool_type": "a boolean",
            "list_type": "an array",
            "dict_type": "a table",
            "model_type": "a table",
        }.get(kind, kind.removesuffix("_type"))
        return f"expected {expected}, found {_describe_type(found)} ({found!r})"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def locate(text: str, key: str) -> int | None:
    """Best-effort 1-based line of ``key`` (e.g. ``benchmarks[1].params.path``) in TOML text.

    tomllib keeps no positions, so this follows table headers and array-of-table counts; it
    falls back to the enclosing table's header, and to None when nothing fits.
    """
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", key)
    tables: list[str] = []
    idx: int | None = None
    for p in parts:
        if p.startswith("["):
            idx = int(p[1:-1])
            tables[-1] = f"{tables[-1]}[{idx}]"
        else:
            tables.append(p)
    want = ".".join(tables)
    counts: dict[str, int] = {}
    current = ""
    best: int | None = None
    best_len = -1
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if m:
            name = m.group(2).replace(" ", "")
            if m.group(1) == "[[":
                n = counts.get(name, -1) + 1
                counts[name] = n
                current = f"{name}[{n}]"
                if want == name and best is None:  # the whole array: its first header
                    best, best_len = lineno, len(name)
            else:
                # a sub-table of an array element: [benchmarks.params] after [[benchmarks]]
                head = name.split(".")[0]
                current = f"{head}[{counts[head]}]" + name[len(head) :] if head in counts else name
            if want == current or want.startswith(current + "."):
                if len(current) > best_len:
                    best, best_len = lineno, len(current)
            continue
        m = _ASSIGN.match(line)
        if m:
            k = m.group(1).strip("\"'")
            full = f"{current}.{k}" if current else k
            if want == full:
                return lineno
            if want.startswith(full + ".") or want.startswith(full + "["):
                if len(full) > best_len:
                    best, best_len = lineno, len(full)
    return best


def load_config(path: str | Path) -> LoadedConfig:
    """Read and validate a config file, raising :class:`ConfigError` on any problem
    (:class:`~vhframe.errors.ConfigErrors`, a subclass, when there are several)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("config file not found", file=str(p))
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", file=str(p)) from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ConfigError(
            f"invalid TOML: {exc}", file=str(p), line=int(m.group(1)) if m else None
        ) from exc
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise combine(validation_errors(exc, raw, text, str(p)), file=str(p)) from None
    return LoadedConfig(config, p.resolve(), text, raw)


def validation_errors(
    exc: ValidationError, raw: dict[str, Any], text: str, file: str
) -> list[ConfigError]:
    """One :class:`ConfigError` per problem pydantic found, in the order of the file's lines
    (those without a line last)."""
    errs = exc.errors()
    missing = {tuple(e["loc"]) for e in errs if e["type"] == "missing"}
    # unknown keys first: one that is a misspelling of a missing required key takes that
    # key's error into its own message
    messages: dict[int, str] = {
        i: _message(e, raw, missing) for i, e in enumerate(errs) if e["type"] == "extra_forbidden"
    }
    out = []
    for i, e in enumerate(errs):
        loc = tuple(e["loc"])
        if e["type"] == "missing" and loc not in missing:
            continue
        key = _key_path(loc)
        message = messages[i] if i in messages else _message(e, raw, missing)
        out.append(ConfigError(message, file=file, key=key, line=locate(text, key)))
    return by_line(out)


def by_line(errors: list[ConfigError]) -> list[ConfigError]:
    """Errors in the order of their lines; those without one keep their order, last."""
    return sorted(errors, key=lambda e: (e.line is None, e.line or 0))
