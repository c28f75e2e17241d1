"""Model references: local Hugging Face folders and models the plugin builds itself.

``builtin:tiny-llama`` is a ~1 M-parameter Llama-architecture causal LM (grouped-query
attention, RoPE, SwiGLU) with a byte-level BPE tokenizer, both made here from a fixed spec: the
tokenizer is trained on the templated corpus of :mod:`vhframe_hf.corpus` and the model is
pretrained on it for a few hundred steps so that it emits word-like text. Nothing is downloaded.
The build is bit-for-bit reproducible on a given machine and software stack, cached under
``<cache_dir>/models/tiny-llama-<spec hash>/`` and rebuilt only when absent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vhframe.context import RunContext
from vhframe.files import write_json
from vhframe.records import content_hash

log = logging.getLogger("vhframe")

BUILTIN_PREFIX = "builtin:"
MANIFEST = "vhframe_model.json"
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")  # ids 0, 1, 2 by construction


@dataclass(frozen=True)
class TinySpec:
    """Everything that determines a built tiny model; its hash names the cache folder."""

    builder: int = 1  # bump when the build procedure changes in a way the fields do not show
    vocab_size: int = 2048
    hidden_size: int = 128
    intermediate_size: int = 344
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2  # fewer KV heads than query heads: exercises GQA paths
    max_position_embeddings: int = 512
    rope_theta: float = 10000.0
    corpus_lines: int = 3000
    seed: int = 0
    pretrain_steps: int = 150
    pretrain_batch: int = 16
    pretrain_seq_len: int = 64
    pretrain_lr: float = 5e-3

    def hash(self) -> str:
        return content_hash(dataclasses.asdict(self))[:12]


BUILTINS: dict[str, TinySpec] = {"tiny-llama": TinySpec()}


def is_builtin(ref: str) -> bool:
    return ref.startswith(BUILTIN_PREFIX)


def resolve_model(ref: str, cache_dir: Path) -> Path:
    """The local folder holding the model ``ref`` names, building a built-in one if needed.

    ``ref`` is ``builtin:<name>`` or a path to a Hugging Face model folder (with
    ``config.json``). Relative paths are taken as they are; use :func:`resolve_model_in` to
    resolve them against a run's config folder.
    """
    if is_builtin(ref):
        name = ref[len(BUILTIN_PREFIX) :]
        spec = BUILTINS.get(name)
        if spec is None:
            known = ", ".join(BUILTIN_PREFIX + n for n in sorted(BUILTINS))
            raise ValueError(f"unknown built-in model {ref!r}; known: {known}")
        target = Path(cache_dir) / "models" / f"{name}-{spec.hash()}"
        if not (target / MANIFEST).is_file():
            log.info("building %s into %s (once; about 20 s on two cores)", ref, target)
            _build_atomically(target, spec)
        return target
    path = Path(ref).expanduser()
    if not path.exists():
        raise ValueError(
            f"model {ref!r}: no such folder (give a local Hugging Face model "
            f"folder or one of {', '.join(BUILTIN_PREFIX + n for n in BUILTINS)})"
        )
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ValueError(f"model {ref!r}: not a Hugging Face model folder (no config.json)")
    return path


def check_model_in(ctx: RunContext, ref: str) -> None:
    """Raise ``ValueError`` unless ``ref`` names a known built-in or a model folder; cheap:
    nothing is built or loaded."""
    if is_builtin(ref):
        if ref[len(BUILTIN_PREFIX) :] not in BUILTINS:
            known = ", ".join(BUILTIN_PREFIX + n for n in sorted(BUILTINS))
            raise ValueError(f"unknown built-in model {ref!r}; known: {known}")
        return
    resolve_model(str(ctx.resolve(ref)), ctx.cache_dir)


def resolve_model_in(ctx: RunContext, ref: str) -> Path:
    """:func:`resolve_model` with relative paths taken from the run's config folder."""
    if is_builtin(ref):
        return resolve_model(ref, ctx.cache_dir)
    return resolve_model(str(ctx.resolve(ref)), ctx.cache_dir)


def model_identity(ref: str) -> dict[str, Any]:
    """What identifies a model ref's weights in fingerprints, without building or reading it.

    Built-ins are identified by their spec hash; local folders by their path (hashing
    multi-gigabyte weights on every run would be too slow to be worth it).
    """
    if is_builtin(ref):
        spec = BUILTINS.get(ref[len(BUILTIN_PREFIX) :])
        return {"ref": ref, "spec": spec.hash() if spec else None}
    return {"ref": ref}


# Files of a Hugging Face folder that decide what the model computes: the config (and the
# generation config, which names the end-of-sequence ids decoding stops at), the tokenizer,
# the weights (single or sharded, safetensors or pickled) and shard indexes.
_IDENTITY_NAMES = frozenset(
    {
        "config.json",
        "generation_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "vocab.txt",
        "merges.txt",
        "spiece.model",
        "chat_template.jinja",
        "chat_template.json",
    }
)
_IDENTITY_PREFIXES = ("tokenizer",)  # tokenizer.json, tokenizer_config.json, tokenizer.model
_IDENTITY_SUFFIXES = (".safetensors", ".bin", ".index.json")
IDENTITY_CACHE = "model-identity.json"  # under the run's cache_dir
# A file modified this close before it was read may change again within the file system's
# timestamp granularity (coarse on some, 2 s on FAT) without its size or mtime changing, so
# its digest is not cached (git's "racily clean" rule).
_RACY_NS = 2_000_000_000


def _identity_files(model_dir: Path) -> list[Path]:
    files = [
        f
        for f in model_dir.iterdir()
        if f.is_file()
        and (
            f.name in _IDENTITY_NAMES
            or f.name.startswith(_IDENTITY_PREFIXES)
            or f.name.endswith(_IDENTITY_SUFFIXES)
        )
    ]
    return sorted(files, key=lambda f: f.name)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_identity_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # absent or damaged: a cache, so start over rather than fail
    return data if isinstance(data, dict) else {}


def _write_identity_cache(path: Path, entries: dict[str, Any]) -> None:
    # written beside and renamed, so a reader never sees half a file; two runs writing at
    # once may lose each other's new entries, which costs a re-hash, never a wrong digest
    write_json(path, entries, indent=1)


def folder_identity(model_dir: Path, cache_dir: Path) -> str:
    """``sha256:<hex>`` over a model folder's config, tokenizer and weight files (name and
    content of each); the same bytes give the same identity wherever the folder lies.

    Per-file digests are cached in ``<cache_dir>/model-identity.json`` under the file's
    resolved path and checked against its size, ``mtime_ns`` and inode, so a multi-gigabyte
    model is read once, not on every run, and a changed file is read again.
    """
    model_dir = Path(model_dir).resolve()
    files = _identity_files(model_dir)
    if not any(f.name.endswith((".safetensors", ".bin")) for f in files):
        raise ValueError(
            f"model folder {str(model_dir)!r}: no weight files (*.safetensors or *.bin)"
        )
    cache_path = Path(cache_dir) / IDENTITY_CACHE
    entries = _read_identity_cache(cache_path)
    changed = False
    total = hashlib.sha256()
    for f in files:
        key = str(f)
        st = f.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        hit = entries.get(key)
        if (
            isinstance(hit, dict)
            and hit.get("stat") == stamp
            and isinstance(hit.get("sha256"), str)
        ):
            digest = hit["sha256"]
        else:
            started = time.time_ns()
            digest = _file_sha256(f)
            after = f.stat()
            settled = st.st_mtime_ns < started - _RACY_NS
            if settled and [after.st_size, after.st_mtime_ns, after.st_ino] == stamp:
                entries[key] = {"stat": stamp, "sha256": digest}
                changed = True
            elif key in entries:
                del entries[key]
                changed = True
        total.update(f"{f.name}\0{digest}\n".encode())
    if changed:
        # drop entries of files that are gone, so the cache stays small
        entries = {k: v for k, v in entries.items() if Path(k).is_file()}
        try:
            _write_identity_cache(cache_path, entries)
        except OSError as exc:  # a read-only cache costs speed, not correctness
            log.warning("could not write %s: %s", cache_path, exc)
    return "sha256:" + total.hexdigest()


def model_identity_in(ctx: RunContext, ref: str) -> str:
    """A name for the weights ``ref`` points at, for cache keys: equal names, equal model.

    ``builtin:<name>`` gives ``builtin:<name>:<spec hash>`` (nothing is built: the spec
    determines the weights). A local folder (relative paths from the run's config folder)
    gives :func:`folder_identity`, so a model copied or moved keeps its identity and a model
    overwritten in place gets a new one. Raises ``ValueError`` for an unknown built-in or a
    path that is not a model folder.
    """
    if is_builtin(ref):
        spec = BUILTINS.get(ref[len(BUILTIN_PREFIX) :])
        if spec is None:
            known = ", ".join(BUILTIN_PREFIX + n for n in sorted(BUILTINS))
            raise ValueError(f"unknown built-in model {ref!r}; known: {known}")
        return f"{ref}:{spec.hash()}"
    return folder_identity(resolve_model_in(ctx, ref), ctx.cache_dir)


def weights_hash(model_dir: Path) -> str:
    """SHA-256 over the model folder's ``*.safetensors`` files, in name order."""
    h = hashlib.sha256()
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        raise ValueError(f"{model_dir}: no *.safetensors files")
    for f in files:
        h.update(f.name.encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- building


def _build_atomically(target: Path, spec: TinySpec) -> None:
    # Build beside the target and rename: a concurrent builder either wins the rename or
    # finds the finished folder, and a killed build leaves only a temp folder behind.
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        build_tiny_llama(tmp, spec)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _single_thread() -> Iterator[None]:
    # One intra-op thread makes the float reductions, and so the weights, independent of the
    # machine's core count; at this size it costs little.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_tokenizer(lines: list[str], vocab_size: int) -> Any:
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on ``lines``; adds ``<s>`` in front."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return tok


def build_tiny_llama(out_dir: Path, spec: TinySpec | None = None) -> Path:
    """Build the tiny model described by ``spec`` into ``out_dir`` (created; must not exist)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from vhframe_hf._torch import quiet_hf
    from vhframe_hf.corpus import corpus_lines

    spec = spec or TinySpec()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=False)
    lines = corpus_lines(spec.corpus_lines, spec.seed)
    raw = train_tokenizer(lines, spec.vocab_size)
    pad, bos, eos = (raw.token_to_id(t) for t in SPECIAL_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=spec.max_position_embeddings,
    )
    config = LlamaConfig(
        vocab_size=raw.get_vocab_size(),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": spec.rope_theta},
        pad_token_id=pad,
        bos_token_id=bos,
        eos_token_id=eos,
        tie_word_embeddings=False,
    )
    with torch.random.fork_rng(devices=[]), _single_thread():
        torch.manual_seed(spec.seed)
        model = LlamaForCausalLM(config)
        if spec.pretrain_steps > 0:
            _pretrain(model, raw, lines, spec, eos)
    model.eval()
    model.generation_config.pad_token_id = pad
    with quiet_hf():
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
    manifest = {
        "builtin": "tiny-llama",
        "spec": dataclasses.asdict(spec),
        "spec_hash": spec.hash(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_sha256": weights_hash(out_dir),
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out_dir


def _pretrain(model: Any, tok: Any, lines: list[str], spec: TinySpec, eos: int) -> None:
    import torch

    # One long stream of "<s> line </s>" cut into fixed blocks: no padding needed.
    stream: list[int] = []
    for enc in tok.encode_batch(lines):
        stream.extend(enc.ids)
        stream.append(eos)
    n_blocks = len(stream) // spec.pretrain_seq_len
    blocks = torch.tensor(stream[: n_blocks * spec.pretrain_seq_len]).view(n_blocks, -1)
    gen = torch.Generator().manual_seed(spec.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=spec.pretrain_lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 20) * max(0.05, 1 - s / spec.pretrain_steps)
    )
    model.train()
    for _ in range(spec.pretrain_steps):
        idx = torch.randint(0, n_blocks, (spec.pretrain_batch,), generator=gen)
        batch = blocks[idx]
        loss = model(input_ids=batch, labels=batch, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
