"""TOML → validated run settings.

Every error names the file, the key path (``generation.top_p``), the line where the key is
written when it can be found, and what was expected.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vhframe.errors import ConfigError
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


def _message(err: Any, raw: dict[str, Any]) -> str:
    kind = err["type"]
    loc = tuple(err["loc"])
    found = _lookup(raw, loc)
    if kind == "extra_forbidden":
        return "unknown key; check the spelling (see `vhframe validate --help` for the schema)"
    if kind == "missing":
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
    """Read and validate a config file, raising :class:`ConfigError` on any problem."""
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
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = _key_path(loc)
        raise ConfigError(
            _message(err, raw), file=str(p), key=key, line=locate(text, key)
        ) from None
    return LoadedConfig(config, p.resolve(), text, raw)
