"""vhframe plugin entry point (``[project.entry-points.vhframe] openai``).

Importing this module must stay cheap (``vhframe plugins`` imports every plugin): the HTTP
client is imported on first use. The classes are registered directly so that their
signatures, and so their parameters, stay visible.
"""

from __future__ import annotations

from vhframe import hookimpl
from vhframe.hookspecs import Register
from vhframe_openai.generator import ChatGenerator, CompletionsGenerator
from vhframe_openai.judge import RubricJudge


@hookimpl
def register_generators(register: Register) -> None:
    register(
        "chat",
        ChatGenerator,
        description="any OpenAI-compatible /chat/completions "
        "endpoint; bounded concurrency, retries with backoff, key from the environment",
    )
    register(
        "completions",
        CompletionsGenerator,
        description="any OpenAI-compatible "
        "/completions endpoint; the prompt is sent as the pipeline built it",
    )


@hookimpl
def register_judges(register: Register) -> None:
    register(
        "judge",
        RubricJudge,
        description="rubric judge: a chat model scores each answer "
        "1-5 against a usage policy; harmful = score 5; unparsed replies kept and labelled",
    )
