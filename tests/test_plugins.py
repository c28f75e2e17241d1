"""Plugin loading: entry points, isolation of broken plugins, collisions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from vhframe import hookimpl
from vhframe.plugins import PluginError, PluginManager


def _install_fake_dist(
    site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]
) -> None:
    """A minimal installed distribution: dist-info with entry points, plus modules."""
    info = site / f"{dist}-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    lines = ["[vhframe]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))


GOOD = """
from vhframe import hookimpl

class Shout:
    def __init__(self, word="harm"):
        self.word = word
    def fingerprint(self):
        return {"word": self.word}
    def judge(self, ctx, generations):
        raise NotImplementedError

@hookimpl
def register_judges(register):
    register("shout", Shout, "flags a word")
"""
BROKEN_IMPORT = "raise ImportError('missing dependency: frobnicate')\n"
BROKEN_REGISTER = """
from vhframe import hookimpl

@hookimpl
def register_judges(register):
    register("fine", object)

@hookimpl
def register_mitigations(register):
    raise RuntimeError("registration exploded")
"""
COLLIDER = """
from vhframe import hookimpl

@hookimpl
def register_judges(register):
    register("good:shout", object)
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    _install_fake_dist(
        site,
        "vhframe_fakes",
        {"good": "fake_good", "broken": "fake_broken", "halfway": "fake_halfway"},
        {"fake_good": GOOD, "fake_broken": BROKEN_IMPORT, "fake_halfway": BROKEN_REGISTER},
    )
    monkeypatch.syspath_prepend(str(site))
    return site


def test_entry_points_load_and_failures_are_isolated(site: Path) -> None:
    pm = PluginManager().load()
    assert pm.plugins["good"].version == "0.3"
    assert "good:shout" in pm.registry["judges"]
    assert pm.get("judges", "good:shout").description == "flags a word"
    broken = pm.plugins["broken"]
    assert broken.error is not None and "missing dependency: frobnicate" in broken.error
    halfway = pm.plugins["halfway"]
    assert halfway.error is not None and "registration exploded" in halfway.error
    # a plugin that failed part-way registers nothing at all
    assert "halfway:fine" not in pm.registry["judges"]
    assert halfway.components == {}
    # built-ins are unaffected
    assert "vhframe:refusal" in pm.registry["judges"]
    with pytest.raises(PluginError, match="plugin 'broken' failed: failed to load"):
        pm.get("judges", "broken:thing")


def test_collision_names_both_plugins(site: Path) -> None:
    _install_fake_dist(
        site, "vhframe_collider", {"zz": "fake_collider"}, {"fake_collider": COLLIDER}
    )
    pm = PluginManager().load()
    assert len(pm.collisions) == 1
    msg = pm.collisions[0]
    assert "'good:shout'" in msg and "'good'" in msg and "'zz'" in msg
    with pytest.raises(PluginError, match="registered by both"):
        pm.check()


def test_in_process_plugins_and_qualified_names() -> None:
    class Plugin:
        @hookimpl
        def register_mitigations(self, register):  # type: ignore[no-untyped-def]
            register("noop", lambda: SimpleNamespace())
            register("other:named", lambda: SimpleNamespace())

    pm = PluginManager().load(entry_points=False, extra=[("mine", Plugin())])
    assert {"mine:noop", "other:named"} <= set(pm.registry["mitigations"])
    assert pm.plugins["mine"].components["mitigations"] == ["mine:noop", "other:named"]


def test_bad_registration_arguments_are_reported() -> None:
    class Plugin:
        @hookimpl
        def register_judges(self, register):  # type: ignore[no-untyped-def]
            register("", object)

    pm = PluginManager().load(entry_points=False, extra=[("weird", Plugin())])
    assert pm.plugins["weird"].error is not None
    assert "non-empty" in pm.plugins["weird"].error


def test_plugin_name_with_colon_is_rejected() -> None:
    pm = PluginManager().load(entry_points=False, extra=[("a:b", object())])
    assert pm.plugins["a:b"].error == "plugin name 'a:b' must not contain ':'"


def test_cli_plugins_lists_broken_plugins(site: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), *sys.path]))
    proc = subprocess.run(
        [sys.executable, "-m", "vhframe.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["vhframe"]["error"] is None
    assert "vhframe:hexphi" in by_name["vhframe"]["components"]["benchmarks"]
    assert by_name["good"]["components"] == {"judges": ["good:shout"]}
    assert "frobnicate" in by_name["broken"]["error"]
    table = subprocess.run(
        [sys.executable, "-m", "vhframe.cli", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert table.returncode == 0
    assert "good" in table.stdout and "frobnicate" in table.stdout


def test_config_naming_a_broken_plugin_fails_cleanly(site: Path, tmp_path: Path) -> None:
    from tests.conftest import MINIMAL

    cfg = tmp_path / "c.toml"
    cfg.write_text(MINIMAL.replace('use = "vhframe:refusal"', 'use = "broken:judge"'))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), *sys.path]))
    proc = subprocess.run(
        [sys.executable, "-m", "vhframe.cli", "validate", str(cfg)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "judges[0].use" in proc.stderr and "frobnicate" in proc.stderr
    assert "Traceback" not in proc.stderr
