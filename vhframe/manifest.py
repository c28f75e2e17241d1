"""``manifest.json``: what a run directory holds and how it was made — the config, the
versions, every component's fingerprint, the facts learnt while running, and each attempt
with its status (``running`` until it ends; a killed attempt stays ``running``)."""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import Any

from vhframe.build import Components
from vhframe.config import LoadedConfig
from vhframe.context import RunContext
from vhframe.files import read_json, write_json
from vhframe.plugins import PluginManager, dist_version


def fingerprints(comps: Components) -> dict[str, Any]:
    return {
        "profiles": comps.profiles.fingerprint(),
        "values": comps.values.fingerprint() if comps.values else None,
        "trainer": comps.trainer.fingerprint() if comps.trainer else None,
        "generator": comps.generator.fingerprint(),
        "benchmarks": {n: b.fingerprint() for n, b, _ in comps.benchmarks},
        "judges": {n: j.fingerprint() for n, j in comps.judges},
        "mitigations": {n: m.fingerprint() for n, m in comps.mitigations},
        "survey": comps.survey[1].fingerprint() if comps.survey else None,
        "benign": {
            n: {"data": d.fingerprint(), "trainer": t.fingerprint()} for n, d, t in comps.benign
        },
    }


class Manifest:
    """The manifest of one attempt at a run; each :meth:`write` replaces the file whole."""

    def __init__(
        self, path: Path, loaded: LoadedConfig, pm: PluginManager, comps: Components
    ) -> None:
        self.path = path
        self.loaded = loaded
        self.pm = pm
        self.comps = comps
        self.previous = read_json(path) if path.exists() else None
        self.started = time.time()

    def write(self, status: str, ctx: RunContext) -> None:
        from vhframe import __version__

        attempts = list((self.previous or {}).get("attempts", []))
        attempt = {"started": _iso(self.started), "status": status}
        if status != "running":
            attempt["finished"] = _iso(time.time())
        if attempts and attempts[-1].get("started") == attempt["started"]:
            attempts[-1] = attempt
        else:
            attempts.append(attempt)
        cfg = self.loaded.config
        write_json(
            self.path,
            {
                "vhframe": __version__,
                "config_file": str(self.loaded.path),
                "config": self.loaded.raw,
                "config_hash": self.loaded.hash,
                "seed": cfg.run.seed,
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "torch": dist_version("torch"),
                "plugins": {p["name"]: p["version"] for p in self.pm.describe()},
                "components": fingerprints(self.comps),
                "facts": ctx.facts,
                "attempts": attempts,
            },
            default=str,
        )


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
