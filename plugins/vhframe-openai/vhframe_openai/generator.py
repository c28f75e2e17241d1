"""``openai:chat`` and ``openai:completions``: generation through an OpenAI-compatible API.

Each request is one sample: its own HTTP request with ``n = 1`` and ``seed = request.seed``,
so a sample's text depends on its request only (as far as the endpoint honours the seed;
hosted APIs treat it as best effort). ``plan`` cuts the requests, in the order given, into
batches of ``batch_size`` so that the pipeline commits progress batch by batch; ``generate``
sends a batch with at most ``concurrency`` requests in flight and returns texts in order.

System prompts: the pipeline has already written ``subject.system_prompt`` in front of the
prompt (``"<system prompt>\\n<prompt>"``), which is what a completions endpoint and the other
generators see. ``openai:chat`` with ``system = "system"`` (the default) takes that prefix
back off and sends it as a system message, the prompt as the user message; with
``system = "user"`` it sends the whole prompt as one user message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vhframe.context import RunContext
from vhframe.errors import ParamError, UserError
from vhframe.records import GenerationRequest
from vhframe_openai.client import Endpoint, EndpointError, check_int

PROTOCOL = 1  # bump when the request bodies change in a way that changes answers
DEFAULT_BASE_URL = "https://api.openai.com/v1"
SYSTEM_MODES = ("system", "user")


class _OpenAIGenerator:
    """Shared parameters and batching of the chat and completions generators."""

    name = ""
    path = ""

    def __init__(
        self,
        model: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        batch_size: int = 64,
        stop: Sequence[str] = (),
        send_seed: bool = True,
        extra_body: Mapping[str, Any] | None = None,
        subject_models: Mapping[str, str] | None = None,
    ) -> None:
        if model is not None and (not isinstance(model, str) or not model):
            raise ParamError("model", f"model must be the endpoint's model name, found {model!r}")
        self.model = model
        self.endpoint = Endpoint(
            owner=self.name,
            base_url=base_url,
            api_key_env=api_key_env,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            max_backoff=max_backoff,
        )
        self.batch_size = check_int("batch_size", batch_size, 1)
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) and s for s in stop):
            raise ParamError("stop", f"stop must be a list of non-empty strings, found {stop!r}")
        self.stop = tuple(stop)
        if not isinstance(send_seed, bool):
            raise ParamError("send_seed", f"send_seed must be true or false, found {send_seed!r}")
        self.send_seed = send_seed
        extra = dict(extra_body or {})
        clash = sorted(set(extra) & self._owned_fields())
        if clash:
            raise ParamError(
                "extra_body",
                f"extra_body must not set {clash}: they come from "
                "the request and the generator's parameters",
            )
        self.extra_body = extra
        models = dict(subject_models or {})
        if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in models.items()):
            raise ParamError(
                "subject_models",
                f"subject_models must map subject names to model names, found {subject_models!r}",
            )
        self.subject_models = models

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, endpoint={self.endpoint!r})"

    def _owned_fields(self) -> set[str]:
        return {"model", "temperature", "top_p", "max_tokens", "n", "seed", "stop", "stream"}

    # ------------------------------------------------------------------ contract
    def fingerprint(self) -> dict[str, Any]:
        # concurrency, timeouts, retries and batch size change when answers arrive, not what
        # they are; the key's variable name is left out too (another key, same model)
        return {
            "generator": self.name,
            "protocol": PROTOCOL,
            "base_url": self.endpoint.base_url,
            "model": self.model,
            "subject_models": dict(sorted(self.subject_models.items())),
            "stop": list(self.stop),
            "send_seed": self.send_seed,
            "extra_body": self.extra_body,
            **self._fingerprint_extra(),
        }

    def _fingerprint_extra(self) -> dict[str, Any]:
        return {}

    def plan(self, requests: Sequence[GenerationRequest]) -> list[list[GenerationRequest]]:
        for r in requests:
            self._model_for(r)  # unservable subjects fail before any request is sent
        return [
            list(requests[i : i + self.batch_size])
            for i in range(0, len(requests), self.batch_size)
        ]

    def generate(self, ctx: RunContext, batch: Sequence[GenerationRequest]) -> list[str]:
        bodies = [self._body(r) for r in batch]
        texts: list[str] = self.endpoint.map(self.path, bodies, self._text)
        return texts

    def close(self) -> None:
        self.endpoint.close()

    # ------------------------------------------------------------------ requests
    def _model_for(self, r: GenerationRequest) -> str:
        """The served model for a request's subject: an explicit mapping, else ``model``,
        else the subject's base model. A local adapter cannot be sent over HTTP, so a subject
        with one needs a mapping to the name under which a server serves it."""
        subject = r.subject
        if subject.name in self.subject_models:
            return self.subject_models[subject.name]
        if subject.adapter:
            raise UserError(
                f"{self.name}: subject {subject.name!r} has a local adapter "
                f"({subject.adapter}) that an HTTP endpoint cannot load; serve it "
                "(e.g. vLLM's --lora-modules) and map the subject to its model "
                "name with subject_models"
            )
        return self.model or subject.base_model

    def _decoding(self, r: GenerationRequest) -> dict[str, Any]:
        d = r.decoding
        body: dict[str, Any] = {
            "model": self._model_for(r),
            "temperature": d.temperature,
            "top_p": d.top_p,
            "max_tokens": d.max_new_tokens,
            "n": 1,
        }
        if self.send_seed:
            body["seed"] = r.seed
        if self.stop:
            body["stop"] = list(self.stop)
        body.update(self.extra_body)
        return body

    def _body(self, r: GenerationRequest) -> dict[str, Any]:
        raise NotImplementedError

    def _text(self, reply: dict[str, Any]) -> str:
        raise NotImplementedError

    def _malformed(self, reply: dict[str, Any]) -> EndpointError:
        return EndpointError(
            f"{self.name}: the endpoint's reply has no usable choices[0]: {str(reply)[:200]}"
        )


class ChatGenerator(_OpenAIGenerator):
    """``openai:chat``: POST ``<base_url>/chat/completions``; see the module docstring for
    how a subject's system prompt is sent (``system``)."""

    name = "openai:chat"
    path = "chat/completions"

    # the full signature is spelled out so that `vhframe plugins` shows every parameter
    def __init__(
        self,
        model: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        batch_size: int = 64,
        stop: Sequence[str] = (),
        send_seed: bool = True,
        extra_body: Mapping[str, Any] | None = None,
        subject_models: Mapping[str, str] | None = None,
        system: str = "system",
    ) -> None:
        if system not in SYSTEM_MODES:
            raise ParamError("system", f"system must be one of {SYSTEM_MODES}, found {system!r}")
        self.system = system
        super().__init__(
            model=model,
            base_url=base_url,
            api_key_env=api_key_env,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            max_backoff=max_backoff,
            batch_size=batch_size,
            stop=stop,
            send_seed=send_seed,
            extra_body=extra_body,
            subject_models=subject_models,
        )

    def _owned_fields(self) -> set[str]:
        return super()._owned_fields() | {"messages"}

    def _fingerprint_extra(self) -> dict[str, Any]:
        return {"system": self.system}

    def messages(self, r: GenerationRequest) -> list[dict[str, str]]:
        """The chat messages for a request."""
        sp = r.subject.system_prompt
        prefix = f"{sp}\n"
        if self.system == "system" and sp and r.prompt.startswith(prefix):
            return [
                {"role": "system", "content": sp},
                {"role": "user", "content": r.prompt[len(prefix) :]},
            ]
        return [{"role": "user", "content": r.prompt}]

    def _body(self, r: GenerationRequest) -> dict[str, Any]:
        return {**self._decoding(r), "messages": self.messages(r)}

    def _text(self, reply: dict[str, Any]) -> str:
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise self._malformed(reply) from None
        # a refusal field with null content (or a tool call) is an empty answer, not an error
        return content if isinstance(content, str) else ""


class CompletionsGenerator(_OpenAIGenerator):
    """``openai:completions``: POST ``<base_url>/completions`` with the prompt as the pipeline
    built it (system prompt and template included)."""

    name = "openai:completions"
    path = "completions"

    def _owned_fields(self) -> set[str]:
        return super()._owned_fields() | {"prompt"}

    def _body(self, r: GenerationRequest) -> dict[str, Any]:
        return {**self._decoding(r), "prompt": r.prompt}

    def _text(self, reply: dict[str, Any]) -> str:
        try:
            text = reply["choices"][0]["text"]
        except (KeyError, IndexError, TypeError):
            raise self._malformed(reply) from None
        return text if isinstance(text, str) else ""
