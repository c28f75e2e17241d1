"""The built-in tiny model: reproducible build, loadable with the Auto classes, clear errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from vhframe_hf.models import (
    MANIFEST,
    TinySpec,
    build_tiny_llama,
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
    out = model.generate(**tok(["QUESTION: Is it right that we should ban zoos? ANSWER:"],
                               return_tensors="pt"), do_sample=False, max_new_tokens=20)
    text = tok.decode(out[0], skip_special_tokens=True)
    words = text.split("ANSWER:", 1)[1].split()
    assert len(words) >= 3 and all(w.strip(".,;?!").isalpha() or w[0].isdigit()
                                   for w in words), text
    manifest = json.loads((tiny / MANIFEST).read_text())
    assert manifest["weights_sha256"] == weights_hash(tiny)


def test_small_build_is_bit_for_bit_deterministic(tmp_path: Path) -> None:
    spec = TinySpec(pretrain_steps=10, corpus_lines=600)
    a = build_tiny_llama(tmp_path / "a", spec)
    b = build_tiny_llama(tmp_path / "b", spec)
    assert weights_hash(a) == weights_hash(b)
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()
    other = build_tiny_llama(tmp_path / "c", TinySpec(pretrain_steps=10, corpus_lines=600,
                                                      seed=1))
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
