"""``vllm:engine`` without vLLM: registration, parameters, the missing-vLLM error, and the
calls it makes, checked against a stand-in for vLLM's public API."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from vhframe_vllm.engine import MISSING, VllmEngine, VllmMissing

from vhframe.context import RunContext
from vhframe.errors import ParamError, UserError
from vhframe.plugins import PluginManager
from vhframe.records import Decoding, GenerationRequest, Item, Subject

needs_no_vllm = pytest.mark.skipif(
    importlib.util.find_spec("vllm") is not None, reason="vllm is installed here"
)


def requests(adapters: list[str | None], base: str = "base-model") -> list[GenerationRequest]:
    dec = Decoding(temperature=0.1, top_p=0.75, max_new_tokens=24)
    out = []
    for i, adapter in enumerate(adapters):
        subject = Subject(
            name=f"s-{adapter}",
            role="aligned" if adapter else "base",
            base_model=base,
            adapter=adapter,
        )
        item = Item(benchmark="hexphi", id=f"q{i}", category="c", prompt=f"p{i}")
        out.append(
            GenerationRequest(
                subject=subject,
                item=item,
                prompt=f"QUESTION: p{i}",
                decoding=dec,
                sample=0,
                seed=100 + i,
            )
        )
    return out


def adapter(tmp_path: Path, name: str) -> str:
    d = tmp_path / name
    d.mkdir()
    (d / "adapter_config.json").write_text("{}")
    return str(d)


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(
        seed=3, run_dir=tmp_path / "run", cache_dir=tmp_path / "cache", config_dir=tmp_path
    )


def test_registers_without_vllm() -> None:
    pm = PluginManager().load()
    info = pm.plugins["vllm"]
    assert info.error is None, info.error
    assert pm.get("generators", "vllm:engine").factory is VllmEngine
    assert isinstance(pm.create("generators", "vllm:engine", {"max_loras": 4}), VllmEngine)
    code = "import sys, vhframe_vllm.plugin; assert 'vllm' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_no_vllm
def test_first_use_without_vllm_is_a_clear_error(ctx: RunContext) -> None:
    engine = VllmEngine()
    with pytest.raises(VllmMissing, match="pip install vllm; it runs on CUDA GPUs") as info:
        engine.plan(requests([None]))
    assert isinstance(info.value, UserError) and str(info.value) == MISSING
    with pytest.raises(VllmMissing, match=r"^vhframe-vllm needs the vllm package"):
        engine.generate(ctx, requests([None]))


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"dtype": "fp8"}, "dtype"),
        ({"tensor_parallel_size": True}, "tensor_parallel_size"),
        ({"gpu_memory_utilization": 1.5}, "gpu_memory_utilization"),
        ({"max_model_len": 0}, "max_model_len"),
        ({"enable_lora": "yes"}, "enable_lora"),
        ({"max_lora_rank": 0}, "max_lora_rank"),
        ({"stop": [""]}, "stop"),
        ({"model": ""}, "model"),
    ],
)
def test_bad_parameters(params: dict[str, Any], param: str) -> None:
    with pytest.raises(ParamError) as info:
        VllmEngine(**params)
    assert info.value.param == param


class FakeVllm:
    """Records the calls of vLLM's public API that the engine uses."""

    def __init__(self) -> None:
        self.llm_kwargs: list[dict[str, Any]] = []
        self.generate_calls: list[tuple[list[str], dict[str, Any]]] = []
        owner = self

        class SamplingParams:
            def __init__(self, **kw: Any) -> None:
                self.kw = kw

        class LoRARequest:
            def __init__(self, lora_name: str, lora_int_id: int, lora_path: str) -> None:
                self.args = (lora_name, lora_int_id, lora_path)

        class Completion:
            def __init__(self, text: str) -> None:
                self.text = text

        class RequestOutput:
            def __init__(self, text: str) -> None:
                self.outputs = [Completion(text)]

        class LLM:
            def __init__(self, **kw: Any) -> None:
                owner.llm_kwargs.append(kw)

            def generate(self, prompts: list[str], **kw: Any) -> list[RequestOutput]:
                owner.generate_calls.append((prompts, kw))
                loras = kw.get("lora_request") or [None] * len(prompts)
                return [
                    RequestOutput(f"{p}|{lo.args[0] if lo else 'base'}|{sp.kw['seed']}")
                    for p, sp, lo in zip(prompts, kw["sampling_params"], loras, strict=True)
                ]

        self.vllm = types.ModuleType("vllm")
        self.vllm.LLM = LLM  # type: ignore[attr-defined]
        self.vllm.SamplingParams = SamplingParams  # type: ignore[attr-defined]
        self.vllm.__version__ = "0.0-test"  # type: ignore[attr-defined]
        self.vllm.__spec__ = importlib.util.spec_from_loader("vllm", loader=None)
        self.lora = types.ModuleType("vllm.lora")
        self.request = types.ModuleType("vllm.lora.request")
        self.request.LoRARequest = LoRARequest  # type: ignore[attr-defined]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "vllm", self.vllm)
        monkeypatch.setitem(sys.modules, "vllm.lora", self.lora)
        monkeypatch.setitem(sys.modules, "vllm.lora.request", self.request)


def test_calls_follow_vllms_api(
    ctx: RunContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeVllm()
    fake.install(monkeypatch)
    a, b = adapter(tmp_path, "a"), adapter(tmp_path, "b")
    reqs = requests([b, None, a, b, None, a])
    engine = VllmEngine(batch_size=4, max_loras=2, stop=["\n\n"])
    batches = engine.plan(reqs)
    assert [len(x) for x in batches] == [4, 2]
    # requests of one adapter are kept together; the base model's come first
    assert [r.subject.adapter for x in batches for r in x] == [None, None, a, a, b, b]
    texts = [t for x in batches for t in engine.generate(ctx, x)]

    assert len(fake.llm_kwargs) == 1  # one engine for all subjects
    kw = fake.llm_kwargs[0]
    assert kw["model"] == "base-model" and kw["enable_lora"] is True
    assert kw["max_loras"] == 2 and kw["max_lora_rank"] == 16 and kw["seed"] == 3
    prompts, first = fake.generate_calls[0]
    assert prompts == ["QUESTION: p1", "QUESTION: p4", "QUESTION: p2", "QUESTION: p5"]
    assert first["use_tqdm"] is False
    assert first["sampling_params"][0].kw == {
        "n": 1,
        "temperature": 0.1,
        "top_p": 0.75,
        "max_tokens": 24,
        "seed": 101,
        "stop": ["\n\n"],
    }
    loras = [lo for _, call in fake.generate_calls for lo in call["lora_request"]]
    by_adapter: dict[str, Any] = {}
    for lo in loras:
        if lo is not None:
            by_adapter.setdefault(lo.args[2], lo)
            assert by_adapter[lo.args[2]] is lo  # one LoRARequest per adapter, reused
    assert sorted(lo.args[1] for lo in by_adapter.values()) == [1, 2]
    assert texts[0] == "QUESTION: p1|base|101"
    assert texts[2].startswith("QUESTION: p2|adapter-") and texts[2].endswith("|102")
    assert ctx.facts["vllm"] == "0.0-test"


def test_plan_checks_before_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeVllm().install(monkeypatch)
    with pytest.raises(UserError, match="not a PEFT adapter folder"):
        VllmEngine().plan(requests([str(tmp_path / "missing")]))
    with pytest.raises(UserError, match="one base model"):
        VllmEngine().plan(requests([None]) + requests([None], base="other"))
    with pytest.raises(UserError, match="enable_lora = false"):
        VllmEngine(enable_lora=False).plan(requests([adapter(tmp_path, "a")]))
    assert len(VllmEngine(model="m").plan(requests([None]) + requests([None], base="x"))) == 1


def test_fingerprint_ignores_speed_settings() -> None:
    assert (
        VllmEngine(batch_size=8, tensor_parallel_size=2).fingerprint()
        == VllmEngine(gpu_memory_utilization=0.5, enforce_eager=True).fingerprint()
    )
    assert VllmEngine(model="a").fingerprint() != VllmEngine(model="b").fingerprint()
