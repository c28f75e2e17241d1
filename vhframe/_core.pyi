"""Typed stub of the Rust extension ``vhframe._core``."""

__version__: str
