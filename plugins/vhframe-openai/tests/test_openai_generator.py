"""``openai:chat`` and ``openai:completions`` against a loopback server."""

from __future__ import annotations

import email.utils
import logging
import pickle
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
from openai_fakes import (  # noqa: F401  (the *_fixture names are fixtures)
    FAST,
    FakeServer,
    Reply,
    ctx_fixture,
    make_requests,
    server_fixture,
)
from vhframe_openai.client import EndpointError, _retry_after
from vhframe_openai.generator import ChatGenerator, CompletionsGenerator
from vhframe_openai.judge import RubricJudge

from vhframe.context import RunContext
from vhframe.errors import ParamError, UserError
from vhframe.plugins import PluginManager

KEY_ENV = "VHFRAME_OPENAI_TEST_KEY"
KEY = "sk-test-5eCr3t-0123456789abcdef"


def chat(server: FakeServer, **kw: Any) -> ChatGenerator:
    params: dict[str, Any] = {
        "base_url": server.base_url,
        "model": "m1",
        "api_key_env": KEY_ENV,
        **FAST,
    }
    params.update(kw)
    return ChatGenerator(**params)


def test_registers_through_entry_point() -> None:
    pm = PluginManager().load()
    info = pm.plugins["openai"]
    assert info.error is None, info.error
    assert "vhframe-openai" in info.source
    assert pm.get("generators", "openai:chat").factory is ChatGenerator
    assert pm.get("generators", "openai:completions").factory is CompletionsGenerator
    assert pm.get("judges", "openai:judge").factory is RubricJudge
    gen = pm.create("generators", "openai:chat", {"base_url": "http://127.0.0.1:9/v1"})
    assert isinstance(gen, ChatGenerator)


def test_plugin_import_does_not_load_httpx() -> None:
    code = "import sys, vhframe_openai.plugin; assert 'httpx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_chat_request_body_and_system_message(
    server: FakeServer, ctx: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    gen = chat(server, stop=["\n\n"])
    reqs = make_requests(2, system_prompt="You value Power above all.")
    try:
        texts = gen.generate(ctx, reqs)
    finally:
        gen.close()
    assert texts == ["answer:QUESTION: prompt 0 ANSWER:", "answer:QUESTION: prompt 1 ANSWER:"]
    seen = sorted(server.requests, key=lambda s: s.body["seed"])
    assert [s.path for s in seen] == ["/v1/chat/completions"] * 2
    assert seen[0].body == {
        "model": "m1",
        "temperature": 0.1,
        "top_p": 0.75,
        "max_tokens": 32,
        "n": 1,
        "seed": 1000,
        "stop": ["\n\n"],
        "messages": [
            {"role": "system", "content": "You value Power above all."},
            {"role": "user", "content": "QUESTION: prompt 0 ANSWER:"},
        ],
    }
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"


def test_chat_user_mode_sends_prompt_verbatim(server: FakeServer, ctx: RunContext) -> None:
    gen = chat(server, system="user", send_seed=False, model=None)
    reqs = make_requests(1, system_prompt="Be bold.")
    assert gen.generate(ctx, reqs) == ["answer:Be bold.\nQUESTION: prompt 0 ANSWER:"]
    body = server.requests[0].body
    assert body["messages"] == [{"role": "user", "content": reqs[0].prompt}]
    assert "seed" not in body
    assert body["model"] == "subject-model"  # no model parameter: the subject's base model
    assert "authorization" not in server.requests[0].headers  # key variable unset
    gen.close()


def test_completions_body(server: FakeServer, ctx: RunContext) -> None:
    gen = CompletionsGenerator(
        base_url=server.base_url, model="m2", api_key_env=KEY_ENV, extra_body={"top_k": 5}, **FAST
    )
    reqs = make_requests(1, system_prompt="Sys.", samples=2)
    texts = gen.generate(ctx, reqs)
    gen.close()
    assert texts == ["answer:Sys.\nQUESTION: prompt 0 ANSWER:"] * 2
    bodies = sorted((s.body for s in server.requests), key=lambda b: b["seed"])
    assert [s.path for s in server.requests] == ["/v1/completions"] * 2
    assert bodies[0] == {
        "model": "m2",
        "prompt": "Sys.\nQUESTION: prompt 0 ANSWER:",
        "temperature": 0.1,
        "top_p": 0.75,
        "max_tokens": 32,
        "n": 1,
        "seed": 1000,
        "top_k": 5,
    }
    assert bodies[1]["seed"] == 1001  # each sample its own request and seed


def test_concurrency_limit_and_order(server: FakeServer, ctx: RunContext) -> None:
    # later requests answer faster, so completion order is the reverse of request order
    def respond(path: str, body: dict[str, Any], headers: dict[str, str], n: int) -> Reply:
        i = body["seed"] - 1000
        return Reply(delay=0.01 * (20 - i // 10) / 2)

    server.respond = respond
    gen = chat(server, concurrency=3)
    reqs = make_requests(16)
    texts = gen.generate(ctx, reqs)
    gen.close()
    assert texts == [f"answer:QUESTION: prompt {i} ANSWER:" for i in range(16)]
    assert len(server.requests) == 16
    assert 2 <= server.max_in_flight <= 3


def test_plan_batches_in_order() -> None:
    gen = ChatGenerator(base_url="http://127.0.0.1:9/v1", batch_size=64)
    reqs = make_requests(130)
    batches = gen.plan(reqs)
    assert [len(b) for b in batches] == [64, 64, 2]
    assert [r for b in batches for r in b] == reqs


def test_429_with_retry_after_then_success(
    server: FakeServer, ctx: RunContext, caplog: pytest.LogCaptureFixture
) -> None:
    def respond(path: str, body: dict[str, Any], headers: dict[str, str], n: int) -> Reply:
        if n == 1:
            return Reply(
                status=429, body={"error": {"message": "slow down"}}, headers={"Retry-After": "0.3"}
            )
        return Reply()

    server.respond = respond
    gen = chat(server, max_retries=2)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING):
        texts = gen.generate(ctx, make_requests(1))
    gen.close()
    assert time.monotonic() - start >= 0.3  # waited as told, not the 0.01 s backoff
    assert texts == ["answer:QUESTION: prompt 0 ANSWER:"]
    assert len(server.requests) == 2
    assert "HTTP 429" in caplog.text and "retry 1 of 2" in caplog.text


def test_5xx_exhausted_gives_clear_error(server: FakeServer, ctx: RunContext) -> None:
    server.respond = lambda *a: Reply(status=503, body={"error": {"message": "overloaded"}})
    gen = chat(server, max_retries=2)
    with pytest.raises(EndpointError) as info:
        gen.generate(ctx, make_requests(1))
    gen.close()
    msg = str(info.value)
    assert isinstance(info.value, UserError) and info.value.status == 503
    assert "after 3 attempts" in msg and "HTTP 503" in msg and "overloaded" in msg
    assert server.base_url + "/chat/completions" in msg
    assert len(server.requests) == 3


def test_other_4xx_fails_at_once(server: FakeServer, ctx: RunContext) -> None:
    server.respond = lambda *a: Reply(
        status=404,
        body={
            "error": {"message": "The model `m1` does not exist", "type": "invalid_request_error"}
        },
    )
    gen = chat(server, max_retries=5, concurrency=2)
    with pytest.raises(EndpointError, match=r"HTTP 404 Not Found: The model `m1` does not exist"):
        gen.generate(ctx, make_requests(6))
    gen.close()
    assert len(server.requests) <= 2  # no retries; requests not yet started are dropped


def test_timeout_then_error(server: FakeServer, ctx: RunContext) -> None:
    server.respond = lambda *a: Reply(delay=1.0)
    gen = chat(server, timeout=0.2, max_retries=1)
    start = time.monotonic()
    with pytest.raises(EndpointError, match=r"after 2 attempts: timed out after 0.2 s"):
        gen.generate(ctx, make_requests(1))
    gen.close()
    assert time.monotonic() - start < 1.5
    assert len(server.requests) == 2


def test_connection_refused_is_retried_then_reported(ctx: RunContext) -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gen = ChatGenerator(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, **FAST)
    with pytest.raises(EndpointError, match=r"after 2 attempts: connection failed"):
        gen.generate(ctx, make_requests(1))


def test_key_from_env_never_leaks(
    server: FakeServer,
    ctx: RunContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)

    # a server that echoes the key it was sent, as some APIs do in their 401 messages
    def respond(path: str, body: dict[str, Any], headers: dict[str, str], n: int) -> Reply:
        if n == 1:
            return Reply(status=500, body={"error": {"message": headers["authorization"]}})
        return Reply(status=401, body={"error": {"message": "bad key " + headers["authorization"]}})

    server.respond = respond
    gen = chat(server, max_retries=1)
    with caplog.at_level(logging.DEBUG), pytest.raises(EndpointError) as info:
        gen.generate(ctx, make_requests(1))
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert "HTTP 401" in str(info.value) and "bad key Bearer ***" in str(info.value)
    exposed = [
        str(info.value),
        repr(info.value),
        caplog.text,
        repr(gen),
        str(gen.fingerprint()),
        str(vars(gen)),
        str(vars(gen.endpoint)),
    ]
    judge = RubricJudge(model="j", base_url=server.base_url, api_key_env=KEY_ENV)
    exposed += [repr(judge), str(judge.fingerprint())]
    for text in exposed:
        assert KEY not in text
    assert KEY.encode() not in pickle.dumps(gen)
    gen.close()


def test_missing_key_hint(
    server: FakeServer, ctx: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    server.respond = lambda *a: Reply(status=401, body={"error": {"message": "no key"}})
    gen = chat(server)
    with pytest.raises(EndpointError, match=f"{KEY_ENV} is not set"):
        gen.generate(ctx, make_requests(1))
    gen.close()


def test_adapter_subject_needs_a_served_name(server: FakeServer, ctx: RunContext) -> None:
    reqs = make_requests(2, adapter="/adapters/x")
    with pytest.raises(UserError, match="subject_models"):
        chat(server).plan(reqs)
    gen = chat(server, subject_models={"aligned-x": "x-lora"})
    assert len(gen.plan(reqs)) == 1
    gen.generate(ctx, reqs)
    gen.close()
    assert {s.body["model"] for s in server.requests} == {"x-lora"}


def test_malformed_reply_is_an_error(server: FakeServer, ctx: RunContext) -> None:
    server.respond = lambda *a: Reply(body={"choices": []})
    gen = chat(server)
    with pytest.raises(EndpointError, match="choices"):
        gen.generate(ctx, make_requests(1))
    gen.close()


def test_fingerprint_ignores_transport_settings() -> None:
    a = ChatGenerator(base_url="http://127.0.0.1:9/v1", model="m", concurrency=1, timeout=5)
    b = ChatGenerator(
        base_url="http://127.0.0.1:9/v1/",
        model="m",
        concurrency=32,
        max_retries=0,
        api_key_env="OTHER",
    )
    assert a.fingerprint() == b.fingerprint()
    assert (
        a.fingerprint()
        != ChatGenerator(
            base_url="http://127.0.0.1:9/v1",
            model="n",
        ).fingerprint()
    )
    assert (
        a.fingerprint()
        != ChatGenerator(base_url="http://127.0.0.1:9/v1", model="m", system="user").fingerprint()
    )


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"base_url": "127.0.0.1:8000"}, "base_url", "http(s) URL"),
        ({"base_url": "http://user:pw@127.0.0.1/v1"}, "base_url", "credentials"),
        ({"base_url": "http://127.0.0.1/v1?key=x"}, "base_url", "query"),
        ({"api_key_env": "sk-abc"}, "api_key_env", "name of an environment variable"),
        ({"concurrency": 0}, "concurrency", ">= 1"),
        ({"concurrency": True}, "concurrency", ">= 1"),
        ({"timeout": 0}, "timeout", "> 0"),
        ({"max_retries": -1}, "max_retries", ">= 0"),
        ({"batch_size": 0}, "batch_size", ">= 1"),
        ({"model": ""}, "model", "model name"),
        ({"stop": [""]}, "stop", "non-empty strings"),
        ({"system": "both"}, "system", "one of"),
        ({"extra_body": {"seed": 1}}, "extra_body", "seed"),
        ({"send_seed": "yes"}, "send_seed", "true or false"),
    ],
)
def test_bad_parameters(params: dict[str, Any], param: str, message: str) -> None:
    with pytest.raises(ParamError, match=None) as info:
        ChatGenerator(**params)
    assert info.value.param == param
    assert message in str(info.value)


def test_retry_after_and_backoff_values() -> None:
    assert _retry_after("2") == 2.0
    assert _retry_after("0.25") == 0.25
    assert _retry_after("-3") == 0.0
    assert _retry_after("99999") == 600.0  # a server asking for hours gets the cap
    assert _retry_after("soon") is None and _retry_after(None) is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (_retry_after(later) or 0) <= 30
    gen = ChatGenerator(base_url="http://127.0.0.1:9/v1", backoff=1.0, max_backoff=4.0)
    waits = [gen.endpoint._backoff(a) for a in range(6) for _ in range(20)]
    assert all(0.5 <= w < 4.0 for w in waits)
    assert max(waits[:20]) < 1.0 and min(waits[-20:]) >= 2.0  # doubles, then capped
    assert len(set(waits)) > 100  # jittered
