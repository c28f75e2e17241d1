"""Where a loaded config puts things: paths relative to the config file, the cache folder
chosen from the config, then the environment, and the error helper's location."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.conftest import MINIMAL
from vhframe.config import LoadedConfig, load_config
from vhframe.records import content_hash


def _load(tmp_path: Path, run_extra: str = "") -> LoadedConfig:
    path = tmp_path / "conf" / "run.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(MINIMAL.replace("[run]\n", "[run]\n" + run_extra), encoding="utf-8")
    return load_config(path)


def test_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    loaded = _load(tmp_path)
    conf = (tmp_path / "conf").resolve()
    assert loaded.dir == conf
    assert loaded.path == conf / "run.toml"
    assert loaded.text == loaded.path.read_text(encoding="utf-8")
    assert loaded.raw == tomllib.loads(loaded.text)
    assert loaded.hash == content_hash(loaded.raw)
    assert loaded.config.run.out_dir == "runs/x"
    assert loaded.resolve("data/x.csv") == conf / "data" / "x.csv"
    assert loaded.resolve(str(tmp_path / "abs.csv")) == tmp_path / "abs.csv"
    assert loaded.resolve("~/x.csv") == Path.home() / "x.csv"
    # out_dir is taken as written (relative to where the command runs)
    assert loaded.out_dir() == Path("runs/x")


def test_cache_dir_from_config_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = (tmp_path / "conf").resolve()
    monkeypatch.setenv("VHFRAME_CACHE", str(tmp_path / "env-cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _load(tmp_path, 'cache_dir = "c"\n').cache_dir() == conf / "c"
    loaded = _load(tmp_path)
    assert loaded.cache_dir() == tmp_path / "env-cache"
    monkeypatch.setenv("VHFRAME_CACHE", "~/vc")
    assert loaded.cache_dir() == tmp_path / "home" / "vc"
    monkeypatch.setenv("VHFRAME_CACHE", "")
    assert loaded.cache_dir() == tmp_path / "xdg" / "vhframe"
    monkeypatch.delenv("VHFRAME_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert loaded.cache_dir() == tmp_path / "home" / ".cache" / "vhframe"


def test_error_points_at_the_key_line(tmp_path: Path) -> None:
    loaded = _load(tmp_path, 'name = "a"\n')
    err = loaded.error("run.name", "not allowed")
    assert (err.file, err.key, err.line, err.detail) == (
        str(loaded.path),
        "run.name",
        2,
        "not allowed",
    )
    assert str(err) == f"{loaded.path}:2: run.name: not allowed"
    assert loaded.error("nowhere", "x").line is None
