"""An implementation whose ``path_counts`` is a fresh copy at each read (not a live view)
still has its per-op path events seen by the oracle."""
from hakmem_fast import FastAllocator
from hakmem_ref import RefAllocator
from specs.api import Config
from specs.lockstep import Oracle
from specs.ops import Alloc, Free


class CopyingCounters(FastAllocator):
    path_counts = property(lambda self: dict(self.probe.view))


def test_events_are_seen_when_path_counts_is_a_copy():
    cfg = Config()
    live = Oracle(RefAllocator(cfg), FastAllocator(cfg))
    copy = Oracle(RefAllocator(cfg), CopyingCounters(cfg))
    for o in (live, copy):
        o.run([Alloc(16, 0), Alloc(16, 0), Free(0, 0), Free(1, 1)])
    assert copy.events == live.events and copy.events["new_slab"] == 1
