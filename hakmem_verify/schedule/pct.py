"""PCT (Burckhardt et al., ASPLOS 2010): random priorities and ``depth - 1`` change
points; finds a bug of depth d with probability >= 1/(n * k^(d-1)) per run."""
from __future__ import annotations

import random

from .run import Run

class PCT:
    """Probabilistic concurrency testing with bug depth ``depth``: random distinct priorities
    for the ``tids``, ``depth - 1`` change points in [1, k] (k: an estimate of the number
    of steps with a choice, e.g. measured by a first run)."""

    def __init__(self, tids, depth: int = 2, k: int = 20, seed: int = 0):
        if depth < 1 or k < 1:
            raise ValueError(f"PCT needs depth >= 1 and k >= 1, got depth={depth}, k={k}")
        self.rng = random.Random(seed)
        order = list(tids)
        self.rng.shuffle(order)
        self.prio = {t: depth + i for i, t in enumerate(order)}   # all above depth - 1
        self.change = sorted(self.rng.sample(range(1, k + 1), min(depth - 1, k)))
        self.choices = 0                                          # steps that had a choice
        self.changed = 0                                          # change points passed

    def choose(self, run: Run, runnable: list) -> int:
        if len(runnable) > 1:
            self.choices += 1
            if self.change and self.choices == self.change[0]:
                self.change.pop(0)
                self.changed += 1
                cur = max(runnable, key=lambda t: self.prio[t])
                self.prio[cur] = self.changed   # i-th change point: priority i < depth
        return max(runnable, key=lambda t: self.prio[t])
