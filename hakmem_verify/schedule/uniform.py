"""A uniformly random runnable thread at every step."""
from __future__ import annotations

import random

from .run import Run

class RandomStrategy:
    """A uniformly random runnable thread at every step."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)

    def choose(self, run: Run, runnable: list) -> int:
        return runnable[0] if len(runnable) == 1 else self.rng.choice(runnable)
