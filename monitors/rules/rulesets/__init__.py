"""Shipped rule sets (package data, read with importlib.resources)."""
