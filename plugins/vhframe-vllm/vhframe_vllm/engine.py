"""``vllm:engine``: generation with vLLM on CUDA GPUs, one ``LoRARequest`` per adapter.

One base model is loaded into a ``vllm.LLM`` on first use; every value-aligned subject's
adapter becomes a ``LoRARequest`` (one per distinct adapter folder, with a stable integer id
for the life of the engine), so requests for many subjects share batches and vLLM schedules
them together. Each request gets its own ``SamplingParams`` (temperature, top_p,
``max_tokens = max_new_tokens``, ``seed = request.seed``, ``n = 1``).

vLLM is imported only when the engine is first used (``plan`` checks that it is installed,
``generate`` imports it), so the plugin registers, lists and validates its parameters on
machines without vLLM. This module is exercised here against a stand-in for vLLM's API; it has
not been run against a real vLLM on a GPU in this project's tests.

Reproducibility: vLLM seeds each request's sampler from its ``seed``, so a sample does not
depend on which requests share its batch up to floating-point effects of batch composition
on the GPU (as for ``hf:batched`` on CUDA); ``plan`` depends only on the requests, so a resumed
run re-runs each batch with its original composition.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vhframe.context import RunContext
from vhframe.errors import ParamError, UserError
from vhframe.records import GenerationRequest

ENGINE_VERSION = 1  # bump when what a request produces changes
DTYPES = ("auto", "bfloat16", "float16", "float32")
MISSING = "vhframe-vllm needs the vllm package: pip install vllm; it runs on CUDA GPUs"


class VllmMissing(UserError):
    """vLLM is not installed where the engine is used."""


def _int(name: str, value: Any, minimum: int) -> int:
    # bool is an int subclass; `batch_size = true` in a config is a mistake, not 1
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParamError(name, f"{name} must be an integer >= {minimum}, found {value!r}")
    return value


def require_vllm() -> Any:
    """Import vLLM, or explain how to get it."""
    try:
        import vllm
        from vllm.lora.request import LoRARequest  # noqa: F401  (checked here, used later)
    except ImportError as exc:
        raise VllmMissing(f"{MISSING} ({exc})") from None
    return vllm


class VllmEngine:
    """Generates with vLLM. ``model`` overrides the subjects' base model (a local Hugging Face
    folder, a name vLLM can load from its own cache, or a vhframe-hf built-in when vhframe-hf
    is installed). The other parameters go to ``vllm.LLM``; ``enable_lora = "auto"`` turns
    LoRA on when any planned request has an adapter."""

    def __init__(
        self,
        model: str | None = None,
        batch_size: int = 512,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        enable_lora: bool | str = "auto",
        max_lora_rank: int = 16,
        max_loras: int = 8,
        stop: Sequence[str] = (),
        enforce_eager: bool = False,
    ) -> None:
        if model is not None and (not isinstance(model, str) or not model):
            raise ParamError("model", f"model must be a model reference string, found {model!r}")
        self.model = model
        self.batch_size = _int("batch_size", batch_size, 1)
        if dtype not in DTYPES:
            raise ParamError("dtype", f"dtype must be one of {DTYPES}, found {dtype!r}")
        self.dtype = dtype
        self.tensor_parallel_size = _int("tensor_parallel_size", tensor_parallel_size, 1)
        if (
            isinstance(gpu_memory_utilization, bool)
            or not isinstance(gpu_memory_utilization, (int, float))
            or not 0.0 < gpu_memory_utilization <= 1.0
        ):
            raise ParamError(
                "gpu_memory_utilization",
                f"gpu_memory_utilization must be in (0, 1], found {gpu_memory_utilization!r}",
            )
        self.gpu_memory_utilization = float(gpu_memory_utilization)
        self.max_model_len = (
            None if max_model_len is None else _int("max_model_len", max_model_len, 1)
        )
        if enable_lora not in (True, False, "auto"):
            raise ParamError(
                "enable_lora", f'enable_lora must be true, false or "auto", found {enable_lora!r}'
            )
        self.enable_lora = enable_lora
        self.max_lora_rank = _int("max_lora_rank", max_lora_rank, 1)
        self.max_loras = _int("max_loras", max_loras, 1)
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) and s for s in stop):
            raise ParamError("stop", f"stop must be a list of non-empty strings, found {stop!r}")
        self.stop = tuple(stop)
        if not isinstance(enforce_eager, bool):
            raise ParamError(
                "enforce_eager", f"enforce_eager must be true or false, found {enforce_eager!r}"
            )
        self.enforce_eager = enforce_eager
        self._llm: Any = None
        self._llm_model: str | None = None
        self._loras: dict[str, Any] = {}  # adapter folder -> LoRARequest
        self._wants_lora = False

    # ------------------------------------------------------------------ contract
    def fingerprint(self) -> dict[str, Any]:
        # parallelism, memory share, batch size and eager mode change speed, not answers
        # (beyond GPU rounding, see the module docstring)
        return {
            "generator": "vllm:engine",
            "engine": ENGINE_VERSION,
            "model": self.model,
            "dtype": self.dtype,
            "max_model_len": self.max_model_len,
            "stop": list(self.stop),
        }

    def plan(self, requests: Sequence[GenerationRequest]) -> list[list[GenerationRequest]]:
        """Check what can be checked before any work, then cut batches with the requests of
        each adapter together (fewer adapters per batch than ``max_loras`` keeps vLLM from
        swapping them), in a deterministic order."""
        if importlib.util.find_spec("vllm") is None:
            raise VllmMissing(MISSING)
        models = {self._model_ref(r) for r in requests}
        if len(models) > 1:
            raise UserError(
                f"vllm:engine serves one base model per run; the subjects use "
                f"{sorted(models)}: set the model parameter or [model] base"
            )
        adapters = sorted({r.subject.adapter for r in requests if r.subject.adapter})
        for adapter in adapters:
            if not (Path(adapter) / "adapter_config.json").is_file():
                raise UserError(
                    f"vllm:engine: adapter {adapter!r} is not a PEFT adapter "
                    "folder (no adapter_config.json)"
                )
        if adapters and self.enable_lora is False:
            raise UserError("vllm:engine: subjects have LoRA adapters but enable_lora = false")
        self._wants_lora = bool(adapters)
        order = sorted(range(len(requests)), key=lambda i: (requests[i].subject.adapter or "", i))
        return [
            [requests[i] for i in order[s : s + self.batch_size]]
            for s in range(0, len(order), self.batch_size)
        ]

    def generate(self, ctx: RunContext, batch: Sequence[GenerationRequest]) -> list[str]:
        vllm = require_vllm()
        from vllm.lora.request import LoRARequest

        llm = self._engine(ctx, vllm, batch)
        params = [
            vllm.SamplingParams(
                n=1,
                temperature=r.decoding.temperature,
                top_p=r.decoding.top_p,
                max_tokens=r.decoding.max_new_tokens,
                seed=r.seed,
                stop=list(self.stop) or None,
            )
            for r in batch
        ]
        loras = [
            self._lora(LoRARequest, r.subject.adapter) if r.subject.adapter else None for r in batch
        ]
        kwargs: dict[str, Any] = {"sampling_params": params, "use_tqdm": False}
        if any(loras):
            kwargs["lora_request"] = loras
        outputs = llm.generate([r.prompt for r in batch], **kwargs)
        # LLM.generate returns one RequestOutput per prompt, in the order given
        return [o.outputs[0].text for o in outputs]

    def close(self) -> None:
        self._llm = None
        self._loras.clear()

    # ------------------------------------------------------------------ engine
    def _model_ref(self, r: GenerationRequest) -> str:
        return self.model or r.subject.base_model

    def _engine(self, ctx: RunContext, vllm: Any, batch: Sequence[GenerationRequest]) -> Any:
        ref = self._model_ref(batch[0])
        if self._llm is not None:
            if ref != self._llm_model:
                raise UserError(
                    f"vllm:engine already holds {self._llm_model!r}; one base "
                    f"model per run (asked for {ref!r})"
                )
            return self._llm
        wants_lora = self._wants_lora or any(r.subject.adapter for r in batch)
        enable_lora = wants_lora if self.enable_lora == "auto" else bool(self.enable_lora)
        kwargs: dict[str, Any] = {
            "model": _resolve_model(ctx, ref),
            "dtype": self.dtype,
            "tensor_parallel_size": self.tensor_parallel_size,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "enforce_eager": self.enforce_eager,
            "seed": ctx.seed,
        }
        if self.max_model_len is not None:
            kwargs["max_model_len"] = self.max_model_len
        if enable_lora:
            kwargs.update(
                enable_lora=True, max_lora_rank=self.max_lora_rank, max_loras=self.max_loras
            )
        self._llm = vllm.LLM(**kwargs)
        self._llm_model = ref
        ctx.facts["vllm"] = getattr(vllm, "__version__", "unknown")
        ctx.facts.setdefault("generator_device", "cuda")
        return self._llm

    def _lora(self, lora_request: Any, adapter: str) -> Any:
        path = str(Path(adapter).resolve())
        req = self._loras.get(path)
        if req is None:
            # vLLM identifies an adapter by a positive integer id that must stay unique
            n = len(self._loras) + 1
            req = lora_request(f"adapter-{n}", n, path)
            self._loras[path] = req
        return req


def _resolve_model(ctx: RunContext, ref: str) -> str:
    """A vhframe-hf built-in resolves to its folder; an existing local path to its absolute
    form; anything else is passed to vLLM as it is."""
    if ref.startswith("builtin:"):
        try:
            from vhframe_hf.models import resolve_model_in
        except ImportError:
            raise UserError(
                f"vllm:engine: model {ref!r} is a vhframe-hf built-in; install "
                "vhframe-hf or give a model folder"
            ) from None
        return str(resolve_model_in(ctx, ref))
    local = ctx.resolve(ref)
    return str(local) if local.exists() else ref
