"""``hf:batched``: batched generation with its own KV-cache decoding loop.

Why not ``model.generate``: each row here samples with its own ``torch.Generator`` seeded from
``request.seed``, on the CPU, from float32 probabilities, so a sample's text depends on its
request only and not on which other prompts share its batch. That is what makes a resumed run
reproduce an uninterrupted one.

How far that holds: rows never see each other (left padding is masked and position ids come
from the mask), so the only coupling is floating-point: the same row computed inside batches
of different shapes may round differently in the last bits. In float32 on the CPU this is rare
enough that greedy and sampled texts match in practice (the tests check it); on a GPU in
bf16/fp16 kernels choose different tilings for different shapes, and a near-tie between two
tokens can flip, after which the texts diverge. The pipeline re-runs a whole batch with its
original composition on resume (``plan`` depends only on the requests), so resume stays exact
either way.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vhframe.context import RunContext
from vhframe.records import GenerationRequest
from vhframe_hf._torch import (
    DEVICES,
    DTYPES,
    check_choice,
    check_int,
    pick_device,
    pick_dtype,
    quiet_hf,
)
from vhframe_hf.attention import check_attention, resolve_attention
from vhframe_hf.lora_batched import BASE, MixedLora
from vhframe_hf.models import (
    check_model_in,
    model_identity,
    model_identity_in,
    resolve_model_in,
)

ENGINE_VERSION = 1  # bump when the decoding loop changes what it produces
CONTEXT_MODES = ("truncate_left", "error")


@dataclass
class _Loaded:
    """A base model in memory, with the adapters loaded into it (most recent last)."""

    tokenizer: Any
    model: Any  # the base model, or a PeftModel wrapping it once an adapter was loaded
    device: str
    attention: str
    adapters: OrderedDict[str, str] = field(default_factory=OrderedDict)  # path -> name


class BatchedGenerator:
    """Generates continuations for batches of requests.

    ``model`` overrides the subjects' ``base_model`` when given. ``stop`` strings end a
    continuation (and are cut from it). ``context`` says what happens to a prompt that does
    not fit the model's window together with ``max_new_tokens``: ``truncate_left`` keeps its
    end (with a warning), ``error`` stops. ``max_adapters`` bounds the adapters kept loaded
    (least recently used go first, never one the current batch uses).

    With ``mixed_adapters`` (the default) one base model serves many LoRA adapters in the same
    batch, each row with its own, so N subjects × M prompts is one stream of length-sorted
    batches rather than N passes; without it each batch holds one adapter and the model
    switches between them. ``batched_lora`` (the default) computes a mixed batch's LoRA deltas
    with two dense products per layer (:mod:`vhframe_hf.lora_batched`); off, or for adapters
    that path does not handle, peft's per-row ``adapter_names`` do it adapter by adapter.

    With ``share_prompts`` (the default) rows of a batch that hold the same prompt for the same
    adapter (several samples of one item) share one prompt pass: the prompt is run once and
    its KV cache and next-token logits are copied to each sample row, which then decodes with
    its own seeded generator as before. ``plan`` keeps such rows together.
    """

    def __init__(
        self,
        model: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 16,
        attention: str = "auto",
        stop: Sequence[str] = (),
        context: str = "truncate_left",
        max_adapters: int = 32,
        mixed_adapters: bool = True,
        share_prompts: bool = True,
        batched_lora: bool = True,
    ) -> None:
        if model is not None and (not isinstance(model, str) or not model):
            raise ValueError(f"model must be a model reference string, found {model!r}")
        self.model = model
        self.device = check_choice("device", device, DEVICES)
        self.dtype = check_choice("dtype", dtype, DTYPES)
        self.batch_size = check_int("batch_size", batch_size, 1)
        check_attention(attention, device)
        self.attention = attention
        if isinstance(stop, str):
            stop = [stop]
        if not all(isinstance(s, str) and s for s in stop):
            raise ValueError(f"stop must be a list of non-empty strings, found {stop!r}")
        self.stop = tuple(stop)
        self.context = check_choice("context", context, CONTEXT_MODES)
        self.max_adapters = check_int("max_adapters", max_adapters, 1)
        if not isinstance(mixed_adapters, bool):
            raise ValueError(f"mixed_adapters must be true or false, found {mixed_adapters!r}")
        self.mixed_adapters = mixed_adapters
        if not isinstance(share_prompts, bool):
            raise ValueError(f"share_prompts must be true or false, found {share_prompts!r}")
        self.share_prompts = share_prompts
        if not isinstance(batched_lora, bool):
            raise ValueError(f"batched_lora must be true or false, found {batched_lora!r}")
        self.batched_lora = batched_lora
        self._loaded: dict[Path, _Loaded] = {}
        # tokens decoded so far over all batches (before stop strings cut the texts), for
        # throughput figures: re-tokenising the texts does not give the same count
        self.new_tokens = 0

    # ------------------------------------------------------------------ contract
    def check_model(self, ctx: RunContext, ref: str) -> None:
        """Fail before any work when the model to load is neither a built-in nor a folder."""
        check_model_in(ctx, self.model or ref)

    def model_identity(self, ctx: RunContext, ref: str) -> str:
        """Names the weights this generator runs for ``ref`` (its own ``model`` when set):
        equal names mean the same config, tokenizer and weight bytes."""
        return model_identity_in(ctx, self.model or ref)

    def fingerprint(self) -> dict[str, Any]:
        # batch_size, device, attention kernel, mixed_adapters, share_prompts and batched_lora
        # are left out: by construction they do not change what a request produces beyond
        # last-bit rounding (module docstring).
        return {
            "generator": "hf:batched",
            "engine": ENGINE_VERSION,
            "model": model_identity(self.model) if self.model else None,
            "dtype": self.dtype,
            "stop": list(self.stop),
            "context": self.context,
        }

    def plan(self, requests: Sequence[GenerationRequest]) -> list[list[GenerationRequest]]:
        """Group by base model (and adapter, unless mixed), sort by prompt length, cut batches.

        Length is the prompt's UTF-8 byte count, a close proxy for its token count that
        needs no tokenizer (``plan`` has no run context to locate one), so the plan depends
        only on the requests given. Equal prompts of one adapter are adjacent, so the samples
        of an item share batches (and their prompt pass). Mixed batches also close when they
        would need more than ``max_adapters`` adapters, so a planned batch always fits the
        adapter bound.
        """
        groups: dict[tuple[str, str], list[int]] = {}
        for i, r in enumerate(requests):
            _check_request(r)
            groups.setdefault(self._group_key(r), []).append(i)
        batches: list[list[GenerationRequest]] = []
        for key in sorted(groups):
            idx = sorted(groups[key], key=lambda i: _plan_key(requests[i], i))
            for chunk in self._cut([requests[i] for i in idx]):
                batches.append(list(chunk))
        return batches

    def generate(self, ctx: RunContext, batch: Sequence[GenerationRequest]) -> list[str]:
        out: list[str | None] = [None] * len(batch)
        groups: dict[tuple[str, str], list[int]] = {}
        for i, r in enumerate(batch):
            _check_request(r)
            groups.setdefault(self._group_key(r), []).append(i)
        for (ref, adapter), idx in sorted(groups.items()):
            loaded = self._load(ctx, ref)
            if not self.mixed_adapters:
                texts = self._run(ctx, loaded, adapter or None, [batch[i] for i in idx])
                for i, t in zip(idx, texts, strict=True):
                    out[i] = t
                continue
            # a batch not made by plan may need more adapters than the bound: split it
            # (rows are independent, so this changes nothing but speed)
            pos = {id(batch[i]): i for i in idx}
            for chunk in self._cut([batch[i] for i in idx], by_size=False):
                texts = self._run_mixed(ctx, loaded, ref, chunk)
                for r, t in zip(chunk, texts, strict=True):
                    out[pos[id(r)]] = t
        return [t if t is not None else "" for t in out]

    def close(self) -> None:
        self._loaded.clear()

    # ------------------------------------------------------------------ loading
    def _group_key(self, r: GenerationRequest) -> tuple[str, str]:
        ref = self.model or r.subject.base_model
        return (ref, "") if self.mixed_adapters else (ref, r.subject.adapter or "")

    def _cut(
        self, reqs: Sequence[GenerationRequest], by_size: bool = True
    ) -> list[Sequence[GenerationRequest]]:
        """Consecutive chunks of at most ``batch_size`` rows and ``max_adapters`` adapters."""
        chunks: list[Sequence[GenerationRequest]] = []
        start, adapters = 0, set[str]()
        for i, r in enumerate(reqs):
            a = r.subject.adapter
            full = by_size and i - start >= self.batch_size
            if full or (a is not None and a not in adapters and len(adapters) >= self.max_adapters):
                chunks.append(reqs[start:i])
                start, adapters = i, set()
            if a is not None:
                adapters.add(a)
        if start < len(reqs):
            chunks.append(reqs[start:])
        return chunks

    def _load(self, ctx: RunContext, ref: str) -> _Loaded:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model_dir = resolve_model_in(ctx, ref)
        loaded = self._loaded.get(model_dir)
        if loaded is not None:
            return loaded
        device = pick_device(self.device, ctx)
        attention = resolve_attention(self.attention, device)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model: Any
        with quiet_hf():
            model = AutoModelForCausalLM.from_pretrained(
                model_dir, dtype=pick_dtype(self.dtype, device), attn_implementation=attention
            )
        model.to(device).eval()
        ctx.facts["attention"] = attention
        ctx.facts.setdefault("generator_device", device)
        loaded = _Loaded(tokenizer=tokenizer, model=model, device=device, attention=attention)
        self._loaded[model_dir] = loaded
        return loaded

    def _activate(self, loaded: _Loaded, adapter: str | None, ref: str) -> Any:
        """Make ``adapter`` (a folder) the active one and return the model to call."""
        if adapter is None:
            return loaded.model
        name = self._ensure(loaded, [adapter], ref)[adapter]
        loaded.model.set_adapter(name)
        return loaded.model

    def _ensure(self, loaded: _Loaded, adapters: Sequence[str], ref: str) -> dict[str, str]:
        """Load ``adapters`` (folders) into the model and return their names.

        Then evict least recently used adapters down to ``max_adapters``, never one of
        ``adapters`` (loading first keeps peft from ever holding zero adapters).
        """
        paths = {a: str(Path(a).resolve()) for a in adapters}
        for a, path in paths.items():
            if path not in loaded.adapters:
                self._load_adapter(loaded, a, path, ref)
            loaded.adapters.move_to_end(path)
        wanted = set(paths.values())
        evictable = [p for p in loaded.adapters if p not in wanted]  # oldest first
        while evictable and len(loaded.adapters) > self.max_adapters:
            with warnings.catch_warnings():
                # peft warns when the evicted adapter was the active one; rows name theirs
                warnings.simplefilter("ignore", UserWarning)
                loaded.model.delete_adapter(loaded.adapters.pop(evictable.pop(0)))
        return {a: loaded.adapters[p] for a, p in paths.items()}

    def _load_adapter(self, loaded: _Loaded, adapter: str, path: str, ref: str) -> None:
        from peft import PeftModel

        if not (Path(path) / "adapter_config.json").is_file():
            raise ValueError(
                f"adapter {adapter!r}: not a PEFT adapter folder (no adapter_config.json)"
            )
        name = "a" + hashlib.sha256(path.encode()).hexdigest()[:16]
        try:
            with warnings.catch_warnings(), quiet_hf():
                # peft still calls a transformers method that 5.x deprecates
                warnings.simplefilter("ignore", FutureWarning)
                if isinstance(loaded.model, PeftModel):
                    loaded.model.load_adapter(path, adapter_name=name)
                else:
                    loaded.model = PeftModel.from_pretrained(loaded.model, path, adapter_name=name)
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ValueError(
                f"adapter {adapter!r} does not fit base model {ref!r}: {exc}"
            ) from None
        loaded.model.eval()
        loaded.adapters[path] = name

    # ------------------------------------------------------------------ decoding
    def _prompt_ids(
        self, ctx: RunContext, loaded: _Loaded, model: Any, r: GenerationRequest
    ) -> list[int]:
        ids: list[int] = loaded.tokenizer(r.prompt)["input_ids"]
        window = int(getattr(model.config, "max_position_embeddings", 0) or 0)
        if not window:
            return ids
        room = window - r.decoding.max_new_tokens
        if room < 1:
            raise ValueError(
                f"max_new_tokens {r.decoding.max_new_tokens} does not fit the "
                f"model's context window of {window} tokens"
            )
        if len(ids) > room:
            where = f"prompt of {r.item.where}"
            if self.context == "error":
                raise ValueError(
                    f"{where} has {len(ids)} tokens; with max_new_tokens "
                    f"{r.decoding.max_new_tokens} the context window of {window} "
                    f"allows at most {room}"
                )
            ctx.log.warning(
                "%s: %d tokens, truncated from the left to %d to fit the context window",
                where,
                len(ids),
                room,
            )
            bos = loaded.tokenizer.bos_token_id
            head = ids[:1] if bos is not None and ids[:1] == [bos] else []
            ids = head + ids[len(ids) - room + len(head) :]
        return ids

    def _run(
        self,
        ctx: RunContext,
        loaded: _Loaded,
        adapter: str | None,
        reqs: Sequence[GenerationRequest],
    ) -> list[str]:
        import torch

        model = self._activate(loaded, adapter, self.model or reqs[0].subject.base_model)
        if adapter is None and hasattr(model, "disable_adapter"):
            with model.disable_adapter(), torch.inference_mode():
                return self._decode(ctx, loaded, model, reqs)
        with torch.inference_mode():
            return self._decode(ctx, loaded, model, reqs)

    def _run_mixed(
        self, ctx: RunContext, loaded: _Loaded, ref: str, reqs: Sequence[GenerationRequest]
    ) -> list[str]:
        import torch

        adapters = [r.subject.adapter for r in reqs]
        used = [a for a in dict.fromkeys(adapters) if a is not None]
        names = self._ensure(loaded, used, ref) if used else {}
        if not loaded.adapters:  # a plain model: no row has an adapter
            with torch.inference_mode():
                return self._decode(ctx, loaded, loaded.model, reqs)
        # the model is a PeftModel: every row names its adapter
        rows = [names[a] if a is not None else BASE for a in adapters]
        lora = MixedLora.build(loaded.model, rows) if self.batched_lora else None
        with torch.inference_mode():
            if lora is None:
                return self._decode(ctx, loaded, loaded.model, reqs, rows)
            with lora:
                return self._decode(ctx, loaded, loaded.model, reqs, rows, lora)

    def _decode(
        self,
        ctx: RunContext,
        loaded: _Loaded,
        model: Any,
        reqs: Sequence[GenerationRequest],
        names: Sequence[str] | None = None,
        lora: MixedLora | None = None,
    ) -> list[str]:
        """Decode ``reqs`` as one batch. ``names``: each row's peft adapter (mixed batches),
        applied by ``lora`` when given, else by peft's per-row ``adapter_names``."""
        import torch
        from transformers import DynamicCache

        tok = loaded.tokenizer
        device = loaded.device
        prompts = [self._prompt_ids(ctx, loaded, model, r) for r in reqs]
        n, width = len(reqs), max(len(p) for p in prompts)
        pad = tok.pad_token_id
        eos_ids = _eos_ids(model, tok)
        input_ids = torch.full((n, width), pad, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for row, ids in enumerate(prompts):  # left padding: every row ends at the same column
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            mask[row, width - len(ids) :] = 1
        input_ids, mask = input_ids.to(device), mask.to(device)
        # positions count real tokens only, so a row's positions do not depend on its padding
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache(config=model.config)
        gens = [torch.Generator().manual_seed(int(r.seed)) for r in reqs]
        new: list[list[int]] = [[] for _ in reqs]
        alive = list(range(n))  # rows still decoding, in their order within the tensors
        stops = self.stop

        def rows_kwargs(rows: Sequence[int]) -> dict[str, Any]:
            """Model arguments that give the tensors' rows (batch rows ``rows``) adapters."""
            if lora is not None:
                lora.use_rows(rows)
            elif names is not None:
                return {"adapter_names": [names[row] for row in rows]}
            return {}

        last = self._prefill(model, cache, prompts, input_ids, mask, positions, names, rows_kwargs)
        for _step in range(max(r.decoding.max_new_tokens for r in reqs)):
            logits = last.float().cpu()
            greedy = logits.argmax(-1).tolist()  # one call for all temperature-0 rows
            step_tokens, keep = [], []
            for k, row in enumerate(alive):
                r = reqs[row]
                token = (
                    greedy[k]
                    if r.decoding.temperature == 0.0
                    else _choose(logits[k], r.decoding.temperature, r.decoding.top_p, gens[row])
                )
                if token in eos_ids:
                    continue
                new[row].append(token)
                if len(new[row]) >= r.decoding.max_new_tokens or (
                    stops
                    and _find_stop(tok.decode(new[row], skip_special_tokens=True), stops)
                    is not None
                ):
                    continue
                step_tokens.append(token)
                keep.append(k)
            if not keep:
                break
            if len(keep) < len(alive):
                # finished rows leave the batch (cache, mask, positions, adapters), so the
                # rest stop paying for them; rows are independent, so texts do not change
                sel = torch.tensor(keep, device=device)
                cache.batch_select_indices(sel)
                mask, positions = mask[sel], positions[sel]
                alive = [alive[k] for k in keep]
            mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
            positions = positions[:, -1:] + 1
            out = model(
                input_ids=torch.tensor(step_tokens, device=device)[:, None],
                attention_mask=mask,
                position_ids=positions,
                cache=cache,
                use_cache=True,
                **rows_kwargs(alive),
            )
            last = out.logits[:, -1, :]
        self.new_tokens += sum(map(len, new))
        texts = []
        for row in range(n):
            text = tok.decode(new[row], skip_special_tokens=True)
            cut = _find_stop(text, stops)
            texts.append(text if cut is None else text[:cut])
        return texts

    def _prefill(
        self,
        model: Any,
        cache: Any,
        prompts: Sequence[Sequence[int]],
        input_ids: Any,
        mask: Any,
        positions: Any,
        names: Sequence[str] | None,
        rows_kwargs: Callable[[Sequence[int]], dict[str, Any]],
    ) -> Any:
        """Run the prompts into ``cache``; return each row's next-token logits (rows, vocab).

        Rows with the same prompt tokens and adapter get the same prefill, so with
        ``share_prompts`` only the first of them is run and its cache rows and logits are
        copied to the others. The copies are exact, and the rows that run keep their padding
        and positions, so only the batch shape differs from a full prefill (see the module
        docstring on rounding).
        """
        import torch

        first: dict[tuple[tuple[int, ...], str | None], int] = {}
        rows: list[int] = []  # the first row of each distinct prompt
        source: list[int] = []  # for each row, its prompt's index in ``rows``
        for row, ids in enumerate(prompts):
            key = (tuple(ids), names[row] if names else None)
            if key not in first:
                first[key] = len(rows)
                rows.append(row)
            source.append(first[key])
        if not self.share_prompts or len(rows) == len(prompts):
            out = model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=positions,
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
                **rows_kwargs(range(len(prompts))),
            )
            return out.logits[:, -1, :]
        sel = torch.tensor(rows, device=input_ids.device)
        out = model(
            input_ids=input_ids[sel],
            attention_mask=mask[sel],
            position_ids=positions[sel],
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
            **rows_kwargs(rows),
        )
        spread = torch.tensor(source, device=input_ids.device)
        cache.batch_select_indices(spread)  # indices repeat: each sample row gets a copy
        return out.logits[:, -1, :][spread]


def _plan_key(r: GenerationRequest, i: int) -> tuple[int, str, int, str, int]:
    """Sort key: length class (steps of √2 in bytes), then adapter, exact length and prompt.

    Rows of one adapter stay together inside a length class, so a mixed batch holds few
    distinct adapters (the batched LoRA products widen with each adapter a batch holds, and
    peft's per-row path, the fallback, loops over them), while padding within a batch stays
    under ~1.4x. Equal
    prompts of one adapter (the samples of an item) end up adjacent, so they share a batch
    and its prompt pass.
    """
    n = len(r.prompt.encode())
    return (int(2 * math.log2(n + 1)), r.subject.adapter or "", n, r.prompt, i)


def _check_request(r: GenerationRequest) -> None:
    d = r.decoding
    if not (d.temperature >= 0.0):
        raise ValueError(f"temperature must be >= 0, found {d.temperature!r}")
    if not (0.0 < d.top_p <= 1.0):
        raise ValueError(f"top_p must be in (0, 1], found {d.top_p!r}")
    if isinstance(d.max_new_tokens, bool) or int(d.max_new_tokens) < 1:
        raise ValueError(f"max_new_tokens must be >= 1, found {d.max_new_tokens!r}")
    if r.subject.adapter is not None and not Path(r.subject.adapter).is_dir():
        raise ValueError(
            f"subject {r.subject.name!r}: adapter folder {r.subject.adapter!r} does not exist"
        )


def _eos_ids(model: Any, tok: Any) -> set[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = tok.eos_token_id
    ids = set(eos) if isinstance(eos, (list, tuple)) else {eos}
    return {int(i) for i in ids if i is not None}


def _find_stop(text: str, stops: Sequence[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def _choose(logits: Any, temperature: float, top_p: float, gen: Any) -> int:
    """One token from a row's float32 CPU logits: greedy at temperature 0, else nucleus."""
    import torch

    if temperature == 0.0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True, stable=True)
        # keep the smallest prefix whose mass reaches top_p (always at least the top token)
        keep = (sorted_p.cumsum(-1) - sorted_p) < top_p
        keep[0] = True
        sorted_p = torch.where(keep, sorted_p, torch.zeros_like(sorted_p))
        pick = torch.multinomial(sorted_p / sorted_p.sum(), 1, generator=gen)
        return int(order[pick])
    return int(torch.multinomial(probs, 1, generator=gen))
