"""vLLM generation for vhframe: the ``vllm:engine`` generator. vLLM is imported on first use,
so this package imports, registers and validates parameters without it."""

__version__ = "0.1.0"
