"""Test helpers, and a real HTTP server on 127.0.0.1 (port 0) that speaks enough of the
OpenAI protocol.

The fixtures are imported by the test modules rather than put in a conftest.py: another
conftest module here would shadow vhframe-hf's, which its tests import by that name.

By default it answers ``/v1/chat/completions`` with ``"answer:" + <last user message>`` and
``/v1/completions`` with ``"answer:" + <prompt>``. A test may set ``server.respond`` to a
function ``(path, body, headers, n) -> Reply`` (``n`` counts requests from 1) to script errors,
delays and judge replies. The server counts requests in flight and keeps the most seen.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from vhframe.context import RunContext
from vhframe.records import Decoding, GenerationRequest, Item, Subject


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict → JSON; str → text
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


def default_reply(path: str, body: dict[str, Any]) -> Reply:
    if path.endswith("/chat/completions"):
        user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
        return Reply(
            body={
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "answer:" + user},
                        "finish_reason": "stop",
                    }
                ],
            }
        )
    if path.endswith("/completions"):
        return Reply(
            body={
                "object": "text_completion",
                "choices": [
                    {"index": 0, "text": "answer:" + body["prompt"], "finish_reason": "stop"}
                ],
            }
        )
    return Reply(status=404, body={"error": {"message": f"no route {path}"}})


class FakeServer:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.respond: Callable[[str, dict[str, Any], dict[str, str], int], Reply] | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with owner.lock:
                    owner.requests.append(Seen(self.path, body, headers))
                    n = len(owner.requests)
                    owner.in_flight += 1
                    owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
                try:
                    reply = (
                        owner.respond(self.path, body, headers, n)
                        if owner.respond
                        else default_reply(self.path, body)
                    )
                    if reply.body is None:
                        reply.body = default_reply(self.path, body).body
                    time.sleep(reply.delay)
                finally:
                    with owner.lock:
                        owner.in_flight -= 1
                raw = (
                    json.dumps(reply.body) if isinstance(reply.body, dict) else str(reply.body)
                ).encode()
                try:
                    self.send_response(reply.status)
                    ctype = "application/json" if isinstance(reply.body, dict) else "text/plain"
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(raw)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# Fast retry settings: tests must not sleep for real backoff times.
FAST = {"backoff": 0.01, "max_backoff": 0.05, "timeout": 5.0}


def make_requests(
    n: int, *, system_prompt: str = "", adapter: str | None = None, samples: int = 1
) -> list[GenerationRequest]:
    subject = Subject(
        name="base" if adapter is None else "aligned-x",
        role="base",
        base_model="subject-model",
        adapter=adapter,
        system_prompt=system_prompt,
    )
    dec = Decoding(temperature=0.1, top_p=0.75, max_new_tokens=32, samples=samples)
    out = []
    for i in range(n):
        item = Item(benchmark="hexphi", id=f"q{i}", category="c", prompt=f"prompt {i}")
        text = f"QUESTION: prompt {i} ANSWER:"
        prompt = f"{system_prompt}\n{text}" if system_prompt else text
        for s in range(samples):
            out.append(
                GenerationRequest(
                    subject=subject,
                    item=item,
                    prompt=prompt,
                    decoding=dec,
                    sample=s,
                    seed=1000 + 10 * i + s,
                )
            )
    return out


@pytest.fixture(name="server")
def server_fixture() -> Iterator[FakeServer]:
    s = FakeServer()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(name="ctx")
def ctx_fixture(tmp_path: Path) -> RunContext:
    return RunContext(
        seed=42, run_dir=tmp_path / "run", cache_dir=tmp_path / "cache", config_dir=tmp_path
    )
