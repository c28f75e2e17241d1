"""Torch-free built-in plugins."""
