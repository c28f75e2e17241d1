"""Hugging Face backends for vhframe: built-in tiny models, the ``hf:lora`` trainer and the
``hf:batched`` generator. Submodules import torch lazily; importing this package is cheap."""

__version__ = "0.1.0"
