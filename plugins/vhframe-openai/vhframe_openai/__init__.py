"""OpenAI-compatible endpoints for vhframe: the ``openai:chat`` and ``openai:completions``
generators and the ``openai:judge`` rubric judge. httpx is imported on first use."""

__version__ = "0.1.0"
