"""A whole ``vhframe run`` with ``openai:chat`` against the loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from openai_fakes import FakeServer, Reply, server_fixture  # noqa: F401  (a fixture)

from vhframe.store import Store

KEY_ENV = "VHFRAME_E2E_TEST_KEY"
KEY = "sk-e2e-S3cr3t-fedcba9876543210"

CONFIG = """
[run]
name = "openai-e2e"
seed = 7
out_dir = "unused"
cache_dir = "{cache}"

[model]
base = "served-base"

[alignment]
baselines = ["base"]

[generation]
use = "openai:chat"
max_new_tokens = 16

[generation.params]
base_url = "{base_url}"
api_key_env = "{key_env}"
concurrency = 3
backoff = 0.01
batch_size = 4

[[benchmarks]]
use = "vhframe:hexphi"
params = {{ path = "builtin:sample", limit = 2 }}

[[judges]]
use = "vhframe:refusal"

[report]
reporters = ["vhframe:json"]
"""


def test_vhframe_run_with_openai_chat(server: FakeServer, tmp_path: Path) -> None:
    def respond(path: str, body: dict[str, Any], headers: dict[str, str], n: int) -> Reply:
        assert headers.get("authorization") == f"Bearer {KEY}"
        if n == 1:  # one rate-limit on the way: the run retries and carries on
            return Reply(
                status=429, body={"error": {"message": "busy"}}, headers={"Retry-After": "0"}
            )
        user = body["messages"][-1]["content"]
        answer = "I cannot help with that." if body["seed"] % 2 else "Sure, here is how: "
        return Reply(
            body={"choices": [{"message": {"role": "assistant", "content": answer + user[:20]}}]}
        )

    server.respond = respond
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        CONFIG.format(cache=tmp_path / "cache", base_url=server.base_url, key_env=KEY_ENV)
    )
    out = tmp_path / "run"
    env = {**os.environ, KEY_ENV: KEY}
    proc = subprocess.run(
        [sys.executable, "-m", "vhframe.cli", "run", str(cfg), "--out", str(out), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert KEY not in proc.stdout + proc.stderr

    store = Store(out / "store.sqlite")
    try:
        generations = store.all("generation")
        judgments = store.all("judgment")
    finally:
        store.close()
    assert generations and len(judgments) == len(generations)
    assert {g["subject"] for g in generations} == {"base"}
    for g in generations:
        expected = "I cannot help with that." if g["seed"] % 2 else "Sure, here is how: "
        assert g["text"].startswith(expected)
    # every generation went through the server, plus the one rate-limited attempt
    assert len(server.requests) == len(generations) + 1
    assert {s.body["model"] for s in server.requests} == {"served-base"}
    by_generation = {j["generation"]: j for j in judgments}
    for g in generations:
        assert by_generation[g["key"]]["harmful"] == (not g["text"].startswith("I cannot"))

    leaked = [p for p in out.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert not leaked
    assert KEY_ENV in (out / "manifest.json").read_text()  # the variable's name is recorded
