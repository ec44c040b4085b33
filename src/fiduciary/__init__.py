"""Fiduciary: one policy file that a store's systems actually obey."""

__version__ = "0.1.0"
