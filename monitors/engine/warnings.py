"""Data the engine could not use: counted per kind, the first of each kind logged."""

from __future__ import annotations

import logging
from collections import Counter

log = logging.getLogger("monitors.engine")


class Warnings:
    """`warn(key, text)`: count under `key`; log `text` the first time only."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._logged: set[str] = set()

    def __call__(self, key: str, text: str) -> None:
        self.counts[key] += 1
        if key not in self._logged:
            self._logged.add(key)
            log.warning("%s (further ones counted, not logged)", text)
