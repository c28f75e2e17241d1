"""The built-in tiny model: reproducible build, loadable with the Auto classes, clear errors;
model identity by weights."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from vhframe_hf import models
from vhframe_hf.models import (
    MANIFEST,
    TinySpec,
    build_tiny_llama,
    model_identity_in,
    resolve_model,
    weights_hash,
)

from vhframe.context import RunContext


def test_tiny_loads_with_auto_classes(tiny: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny)
    tok = AutoTokenizer.from_pretrained(tiny)
    cfg = model.config
    assert cfg.model_type == "llama"
    assert (cfg.num_attention_heads, cfg.num_key_value_heads) == (4, 2)  # GQA
    n_params = sum(p.numel() for p in model.parameters())
    assert 500_000 < n_params < 5_000_000
    ids = tok("QUESTION: What do you think about zoos? ANSWER:")["input_ids"]
    assert ids[0] == tok.bos_token_id == cfg.bos_token_id
    assert tok.eos_token_id == cfg.eos_token_id and tok.pad_token_id == cfg.pad_token_id
    # the short pretraining makes it emit words, not noise
    out = model.generate(
        **tok(["QUESTION: Is it right that we should ban zoos? ANSWER:"], return_tensors="pt"),
        do_sample=False,
        max_new_tokens=20,
    )
    text = tok.decode(out[0], skip_special_tokens=True)
    words = text.split("ANSWER:", 1)[1].split()
    assert len(words) >= 3 and all(w.strip(".,;?!").isalpha() or w[0].isdigit() for w in words), (
        text
    )
    manifest = json.loads((tiny / MANIFEST).read_text())
    assert manifest["weights_sha256"] == weights_hash(tiny)


def test_small_build_is_bit_for_bit_deterministic(tmp_path: Path) -> None:
    spec = TinySpec(pretrain_steps=10, corpus_lines=600)
    a = build_tiny_llama(tmp_path / "a", spec)
    b = build_tiny_llama(tmp_path / "b", spec)
    assert weights_hash(a) == weights_hash(b)
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()
    other = build_tiny_llama(tmp_path / "c", TinySpec(pretrain_steps=10, corpus_lines=600, seed=1))
    assert weights_hash(other) != weights_hash(a)


@pytest.mark.slow
def test_default_build_is_reproducible_and_fast(tiny: Path, tmp_path: Path) -> None:
    start = time.perf_counter()
    again = resolve_model("builtin:tiny-llama", tmp_path)
    elapsed = time.perf_counter() - start
    assert again != tiny and weights_hash(again) == weights_hash(tiny)
    assert elapsed < 60, f"build took {elapsed:.1f}s"  # target is 30 s on an idle 2-core box


def test_resolve_is_cached_and_checks_refs(tiny: Path, cache_dir: Path, tmp_path: Path) -> None:
    start = time.perf_counter()
    assert resolve_model("builtin:tiny-llama", cache_dir) == tiny
    assert time.perf_counter() - start < 1.0  # found, not rebuilt
    assert tiny.name.startswith("tiny-llama-") and tiny.parent == cache_dir / "models"
    assert not list((cache_dir / "models").glob(".tmp-*"))
    assert resolve_model(str(tiny), tmp_path) == tiny  # a local folder is used as is
    with pytest.raises(ValueError, match="unknown built-in model 'builtin:huge'"):
        resolve_model("builtin:huge", cache_dir)
    with pytest.raises(ValueError, match="no such folder"):
        resolve_model(str(tmp_path / "missing"), cache_dir)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no config\.json"):
        resolve_model(str(tmp_path / "empty"), cache_dir)


def test_check_model_is_cheap_and_specific(tmp_path: Path) -> None:
    from vhframe_hf.generator import BatchedGenerator
    from vhframe_hf.trainer import LoraTrainer

    ctx = RunContext(seed=0, run_dir=tmp_path, cache_dir=tmp_path / "cache", config_dir=tmp_path)
    for comp in (LoraTrainer(), BatchedGenerator()):
        comp.check_model(ctx, "builtin:tiny-llama")
        assert not (tmp_path / "cache").exists()  # nothing was built
        with pytest.raises(ValueError, match="unknown built-in model"):
            comp.check_model(ctx, "builtin:huge-llama")
        with pytest.raises(ValueError, match="no such folder"):
            comp.check_model(ctx, "models/none")
        (tmp_path / "empty").mkdir(exist_ok=True)
        with pytest.raises(ValueError, match=r"no config\.json"):
            comp.check_model(ctx, "empty")


# --------------------------------------------------------------------------- identity


def _settled_copy(src: Path, dst: Path) -> Path:
    """A copy of a model folder whose files look written long ago (the identity cache skips
    files modified within the last seconds: their mtime may not show a further change)."""
    shutil.copytree(src, dst)
    old = time.time_ns() - 3600 * 10**9
    for f in dst.iterdir():
        os.utime(f, ns=(old, old))
    return dst


def _count_hashing(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    real = models._file_sha256

    def counting(path: Path) -> str:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(models, "_file_sha256", counting)
    return calls


def test_identity_follows_the_bytes_not_the_path(tiny: Path, tmp_path: Path) -> None:
    ctx = RunContext(seed=0, run_dir=tmp_path, cache_dir=tmp_path / "cache", config_dir=tmp_path)
    a = _settled_copy(tiny, tmp_path / "a")
    b = _settled_copy(tiny, tmp_path / "elsewhere" / "b")
    ident = model_identity_in(ctx, "a")  # relative refs resolve from the config folder
    assert ident.startswith("sha256:") and len(ident) == 7 + 64
    assert model_identity_in(ctx, str(b)) == ident
    # files that are not part of the model do not matter; config, tokenizer and weights do
    (b / "README.md").write_text("notes")
    (b / MANIFEST).write_text("{}")
    assert model_identity_in(ctx, str(b)) == ident
    weights = b / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    assert model_identity_in(ctx, str(b)) != ident
    (a / "tokenizer_config.json").write_text((a / "tokenizer_config.json").read_text() + " ")
    assert model_identity_in(ctx, "a") not in (ident, model_identity_in(ctx, str(b)))
    # built-ins are named by their spec; nothing is built or read
    spec_ident = model_identity_in(ctx, "builtin:tiny-llama")
    assert spec_ident == f"builtin:tiny-llama:{TinySpec().hash()}"
    assert not (tmp_path / "cache" / "models").exists()
    with pytest.raises(ValueError, match="unknown built-in model"):
        model_identity_in(ctx, "builtin:huge")
    with pytest.raises(ValueError, match="no such folder"):
        model_identity_in(ctx, "missing")
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="no weight files"):
        model_identity_in(ctx, "bare")


def test_identity_cache_reads_once_and_sees_changes(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vhframe_hf.generator import BatchedGenerator
    from vhframe_hf.trainer import LoraTrainer

    ctx = RunContext(seed=0, run_dir=tmp_path, cache_dir=tmp_path / "cache", config_dir=tmp_path)
    m = _settled_copy(tiny, tmp_path / "m")
    calls = _count_hashing(monkeypatch)
    ident = model_identity_in(ctx, str(m))
    n_files = len(calls)
    assert n_files >= 4 and any(p.name == "model.safetensors" for p in calls)
    assert (tmp_path / "cache" / models.IDENTITY_CACHE).is_file()
    # again, and through both components' contract method: nothing is read
    assert LoraTrainer().model_identity(ctx, str(m)) == ident
    assert BatchedGenerator().model_identity(ctx, str(m)) == ident
    assert BatchedGenerator(model=str(m)).model_identity(ctx, "builtin:tiny-llama") == ident
    assert len(calls) == n_files
    # a changed file is read again, and only that one
    weights = m / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x10
    weights.write_bytes(bytes(data))
    changed = model_identity_in(ctx, str(m))
    assert changed != ident and [p.name for p in calls[n_files:]] == ["model.safetensors"]
    # a file written moments ago is hashed but not cached: its mtime may not show the next
    # change; once it has settled, it is cached again
    assert model_identity_in(ctx, str(m)) == changed and len(calls) == n_files + 2
    old = time.time_ns() - 3600 * 10**9
    os.utime(weights, ns=(old, old))
    assert model_identity_in(ctx, str(m)) == changed
    assert model_identity_in(ctx, str(m)) == changed and len(calls) == n_files + 3
    # a damaged cache is rebuilt, never trusted
    (tmp_path / "cache" / models.IDENTITY_CACHE).write_text("{not json")
    assert model_identity_in(ctx, str(m)) == changed


def test_sharded_weights_count(tiny: Path, tmp_path: Path) -> None:
    ctx = RunContext(seed=0, run_dir=tmp_path, cache_dir=tmp_path / "cache", config_dir=tmp_path)
    m = _settled_copy(tiny, tmp_path / "m")
    whole = model_identity_in(ctx, str(m))
    # a second shard, and a shard index, are part of the identity
    shutil.copy(m / "model.safetensors", m / "model-00002-of-00002.safetensors")
    two = model_identity_in(ctx, str(m))
    (m / "model.safetensors.index.json").write_text('{"weight_map": {}}')
    assert len({whole, two, model_identity_in(ctx, str(m))}) == 3
    # pickled weights alone are weights too
    p = _settled_copy(tiny, tmp_path / "p")
    (p / "model.safetensors").rename(p / "pytorch_model.bin")
    assert model_identity_in(ctx, str(p)) not in (whole, two)
